package source

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshServer serves the repositories under root over SSH the way a git
// host does: it runs git-upload-pack for the exec request, for one
// client key.
type sshServer struct {
	addr    string
	hostKey ssh.PublicKey
	keyFile string // the client's private key
	// encKeyFile is the same key encrypted with passphrase "hunter22".
	encKeyFile string
}

func startSSHServer(t *testing.T, root string) sshServer {
	t.Helper()
	if _, err := os.Stat(filepath.Join(gitExecPath(t), "git-upload-pack")); err != nil {
		t.Skip("no git-upload-pack:", err)
	}
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	sshClientPub, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err == nil {
		err = os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	encKeyFile := filepath.Join(t.TempDir(), "id_ed25519_enc")
	block, err = ssh.MarshalPrivateKeyWithPassphrase(clientPriv, "", []byte("hunter22"))
	if err == nil {
		err = os.WriteFile(encKeyFile, pem.EncodeToMemory(block), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(sshClientPub.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSH(c, cfg, root)
			}()
		}
	}()
	return sshServer{addr: ln.Addr().String(), hostKey: hostSigner.PublicKey(), keyFile: keyFile, encKeyFile: encKeyFile}
}

func serveSSH(c net.Conn, cfg *ssh.ServerConfig, root string) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range reqs {
			if req.Type != "exec" || len(req.Payload) < 4 {
				req.Reply(false, nil)
				continue
			}
			// "git-upload-pack '/remote.git'"
			cmdline := string(req.Payload[4:])
			name, arg, _ := strings.Cut(cmdline, " ")
			if name != "git-upload-pack" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			cmd := exec.Command("git-upload-pack", filepath.Join(root, strings.Trim(arg, "'")))
			cmd.Env = append(os.Environ(), "PATH="+gitExecPathOr(os.Getenv("PATH")), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			status := uint32(0)
			if err := cmd.Run(); err != nil {
				status = 1
			}
			ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			ch.Close()
			break
		}
	}
}

// gitExecPathOr puts git's exec path (where git-upload-pack lives) in
// front of path.
func gitExecPathOr(path string) string {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return path
	}
	return strings.TrimSpace(string(out)) + string(os.PathListSeparator) + path
}

func TestGitSSH(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	head := r.commit(map[string]string{"a.cue": "a: 1\n"})
	srv := startSSHServer(t, filepath.Dir(r.bare))
	url := "ssh://git@" + srv.addr + "/remote.git"

	knownHosts := func(key ssh.PublicKey) string {
		f := filepath.Join(t.TempDir(), "known_hosts")
		line := knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, key)
		if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	opts := GitOptions{URL: url, SSHKeyFile: srv.keyFile, SSHKnownHosts: knownHosts(srv.hostKey)}

	o := opts
	o.CacheDir = t.TempDir()
	g, ct := newTestGit(t, o)
	rev, _ := fetch(t, g)
	if rev.ID != head || readFile(t, rev.FS, "a.cue") != "a: 1\n" {
		t.Fatalf("ssh fetch: %s, want %s", rev.ID, head)
	}
	second := r.commit(map[string]string{"b.cue": "b: 1\n"})
	if rev, _ = fetch(t, g); rev.ID != second || ct.haves != 1 {
		t.Errorf("second ssh fetch: %s with %d haves, want %s with 1", rev.ID, ct.haves, second)
	}
	if _, changed := fetch(t, g); changed || ct.fetches.Load() != 2 {
		t.Errorf("unchanged ssh fetch: changed %v after %d downloads", changed, ct.fetches.Load())
	}

	// A server whose key is not the one on record is refused.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	o = opts
	o.CacheDir, o.SSHKnownHosts = t.TempDir(), knownHosts(other.PublicKey())
	g, _ = newTestGit(t, o)
	_, _, err := g.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("wrong host key: %v", err)
	}

	// An encrypted key needs its passphrase; a wrong one fails in NewGit,
	// without showing it.
	o = opts
	o.CacheDir, o.SSHKeyFile, o.SSHKeyPassphrase = t.TempDir(), srv.encKeyFile, "hunter22"
	if g, err := NewGit(o); err != nil {
		t.Errorf("encrypted key: %v", err)
	} else {
		g.Close()
	}
	o.SSHKeyPassphrase = "wrong-passphrase"
	if _, err := NewGit(o); err == nil || strings.Contains(err.Error(), "wrong-passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
}
