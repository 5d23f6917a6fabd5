package github

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseAppKey(t *testing.T) {
	key, _ := testKeys(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"PKCS#1, as GitHub issues it": pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)),
		"PKCS#8":                      pemOf("PRIVATE KEY", pkcs8),
		"with text around it":         append(append([]byte("Downloaded from GitHub\n"), pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))...), '\n'),
	} {
		got, err := ParseAppKey(data)
		if err != nil || !got.Equal(key) {
			t.Errorf("%s: %v", name, err)
		}
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1, 2, 3}})
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":          {nil, "no PEM block"},
		"not PEM":        {[]byte("42\n"), "no PEM block"},
		"public key":     {pemOf("PUBLIC KEY", pub), "a public key"},
		"EC key":         {pemOf("PRIVATE KEY", ec8), "not an RSA key"},
		"encrypted":      {encrypted, "encrypted"},
		"SSH key":        {pemOf("OPENSSH PRIVATE KEY", []byte("x")), "an SSH key"},
		"certificate":    {pemOf("CERTIFICATE", []byte("x")), `a PEM "CERTIFICATE" block`},
		"broken PKCS#1":  {pemOf("RSA PRIVATE KEY", []byte("x")), "malformed RSA private key"},
		"broken PKCS#8 ": {pemOf("PRIVATE KEY", []byte("x")), "malformed PKCS#8 private key"},
	} {
		if _, err := ParseAppKey(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestReadAppKeyNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	if _, err := ReadAppKey(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "app.pem")
	os.WriteFile(bad, []byte("ghp_not-a-key\n"), 0o600)
	if _, err := ReadAppKey(bad); err == nil || !strings.Contains(err.Error(), bad+": no PEM block") {
		t.Errorf("not a key: %v", err)
	}
	key, _ := testKeys(t)
	good := filepath.Join(dir, "good.pem")
	os.WriteFile(good, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), 0o600)
	if k, err := ReadAppKey(good); err != nil || !k.Equal(key) {
		t.Errorf("good key: %v", err)
	}
}

// TestAppJWTClaims reads back the JWT pier signs: RS256 over the App's
// key, issued a minute ago, living GitHub's maximum of 10 minutes.
func TestAppJWTClaims(t *testing.T) {
	key, _ := testKeys(t)
	now := time.Unix(1_780_000_000, 0)
	jwt, err := appJWT(42, key, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT %q", jwt)
	}
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("segment %d: %s", i, b)
		}
	}
	if header["alg"] != "RS256" || header["typ"] != "JWT" {
		t.Errorf("header %v", header)
	}
	if claims["iat"] != float64(now.Unix()-60) || claims["exp"] != float64(now.Unix()+540) || claims["iss"] != "42" || len(claims) != 3 {
		t.Errorf("claims %v", claims)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("signature: %v", err)
	}
}
