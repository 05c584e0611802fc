#!/bin/sh
# A development CA and one node certificate signed by it, with openssl:
#   scripts/dev-certs.sh OUT_DIR [ADDRESS...]
# ADDRESS: the IPs and host names the nodes are reached at (default 127.0.0.1 localhost).
# Writes ca.crt (give it to every node's --ca and every client's --ca), ca.key
# (keep it off the nodes), node.crt and node.key (--cert, --key). One
# certificate serves every node when it names all their addresses; for a
# certificate per node, run the last three commands once per node.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [ADDRESS...]" >&2; exit 2; }
out=$1
shift
[ $# -gt 0 ] || set -- 127.0.0.1 localhost
mkdir -p "$out"
umask 077

names=""
for address in "$@"; do
  case $address in
    *[!0-9.]*) names="$names,DNS:$address" ;;
    *) names="$names,IP:$address" ;;
  esac
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=Warehouse 13 development CA" -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=warehouse13-node" -keyout "$out/node.key" -out "$out/node.csr" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "${names#,}" > "$out/node.ext"
openssl x509 -req -in "$out/node.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial -days 825 \
  -extfile "$out/node.ext" -out "$out/node.crt" 2>/dev/null
rm -f "$out/node.csr" "$out/node.ext" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/node.crt"
echo "$out: ca.crt ca.key node.crt node.key (for ${names#,})"
