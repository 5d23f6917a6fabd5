package github

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// This file is what a GitHub App's identity is made of: its private key
// and the JWT signed with it. A few dozen lines of the standard library
// do it; a JWT library would bring algorithms pier must never accept.

// ReadAppKey reads a GitHub App's private key from a PEM file. Its
// errors name the file, so that a wrong path or a wrong file stops pier
// at start rather than at the first token renewal.
func ReadAppKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GitHub App key: %w", err)
	}
	k, err := ParseAppKey(data)
	if err != nil {
		return nil, fmt.Errorf("GitHub App key %s: %w", path, err)
	}
	return k, nil
}

// ParseAppKey parses a GitHub App's private key: PKCS#1 ("RSA PRIVATE
// KEY"), which is what GitHub hands out, or PKCS#8 ("PRIVATE KEY"), which
// is what openssl and secret stores often turn it into. The errors say
// what the file holds instead, since the usual mistake is the wrong file
// (a public key, an SSH key, a certificate).
func ParseAppKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block: want the private key GitHub generated for the App (-----BEGIN RSA PRIVATE KEY-----)")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("the key is encrypted; GitHub issues App keys unencrypted: give pier the key as downloaded")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("malformed RSA private key: %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("malformed PKCS#8 private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an RSA key: GitHub App keys are RSA", k)
		}
		return rk, nil
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, errors.New("a public key: pier signs with the App's private key")
	case "OPENSSH PRIVATE KEY":
		return nil, errors.New("an SSH key, not the App's private key")
	}
	return nil, fmt.Errorf("a PEM %q block, not an RSA private key", block.Type)
}

// jwtLifetime is how long an App JWT is valid: GitHub refuses one that
// expires more than 10 minutes after it was issued.
const jwtLifetime = 10 * time.Minute

// jwtBackdate is how far before now a JWT says it was issued, as GitHub
// advises: a clock a little ahead of GitHub's would otherwise make every
// JWT "issued in the future". Its expiry is then 9 minutes from now,
// which also leaves room for a clock a little behind.
const jwtBackdate = time.Minute

// appJWT returns the JWT that authenticates as App id for the next few
// minutes: RS256 over {"iat","exp","iss"}.
func appJWT(id int64, key *rsa.PrivateKey, now time.Time) (string, error) {
	iat := now.Add(-jwtBackdate).Unix()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	// iss as a string, as GitHub's own examples send it (a Client ID, a
	// string, is accepted in the same place).
	claims := enc.EncodeToString(fmt.Appendf(nil, `{"iat":%d,"exp":%d,"iss":%q}`,
		iat, iat+int64(jwtLifetime/time.Second), strconv.FormatInt(id, 10)))
	signed := header + "." + claims
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the App JWT: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}
