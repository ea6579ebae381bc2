#!/usr/bin/env bash
# Writes a throw-away PKI for the TLS tests into DIR (openssl CLI): a CA, a server certificate
# for 127.0.0.1 and localhost, a client certificate, and a second CA that signed neither.
#   ca.pem            the CA that signed server.pem and client.pem
#   server.pem/.key   subjectAltName IP:127.0.0.1, DNS:localhost
#   client.pem/.key   a client certificate (CN beanpole-test-client), for mutual TLS
#   other-ca.pem      an unrelated CA: verifying the server with it must fail
# usage: make_test_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
days=2
subj() { printf '/CN=%s' "$1"; }

ca() {  # ca NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -subj "$(subj "beanpole test $1")" -keyout "$1.key" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}

leaf() {  # leaf NAME CN EXTENSIONS
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$(subj "$2")" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca
ca other-ca
leaf server localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
leaf client beanpole-test-client "extendedKeyUsage=clientAuth"
chmod 600 ./*.key
