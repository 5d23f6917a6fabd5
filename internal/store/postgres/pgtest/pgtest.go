// Package pgtest gives tests a real PostgreSQL: one throwaway server per
// test binary, started from the installed server binaries on first use
// (initdb into a temporary directory, listening on a Unix socket only,
// so that test binaries running side by side never compete for a port),
// and a fresh database for each test. A package that uses it calls Main
// from its TestMain, which stops the server when the tests are done.
//
// Without the server binaries a test that asks for a database is
// skipped, saying why; with PIER_REQUIRE_POSTGRES=1 (as in CI) it fails
// instead, so that the PostgreSQL tests cannot silently not run.
//
// The binaries are looked for in PIER_POSTGRES_BIN, then in Debian's
// /usr/lib/postgresql/VERSION/bin (the newest), then on PATH. initdb and
// postgres refuse to run as root: run as root, the server runs as the
// postgres user, which owns its directory.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv, set to 1, turns a missing server into a failure.
const RequireEnv = "PIER_REQUIRE_POSTGRES"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir  string // data directory and socket, removed at Stop
	cmd  *exec.Cmd
	exit chan struct{} // closed when the server process ends
	log  *syncBuffer

	mu    sync.Mutex
	admin *pgx.Conn // to the test database, for CREATE and DROP SCHEMA
}

const port = 5432 // only names the socket file: there is no TCP listener

var (
	once    sync.Once
	shared  *Server
	startEr error
	schemas atomic.Int64
)

// Main runs the tests of a package that uses the server, then stops the
// server if a test started it. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

// URL returns the URL of a new, empty database for t, dropped at the end
// of t. Without a server t is skipped, or fails under
// PIER_REQUIRE_POSTGRES=1.
//
// The database is a schema of its own in the server's one test
// database (the URL sets search_path to it): creating a schema takes
// milliseconds where CREATE DATABASE takes a tenth of a second, and the
// store sees nothing but its own tables either way.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { shared, startEr = Start() })
	if startEr != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("PostgreSQL is required (%s=1): %v", RequireEnv, startEr)
		}
		t.Skipf("no PostgreSQL server for this test: %v (install Debian's postgresql package; %s=1 makes this a failure)", startEr, RequireEnv)
	}
	name := fmt.Sprintf("t%d", schemas.Add(1))
	if err := shared.exec(`CREATE SCHEMA ` + name); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := shared.exec(`DROP SCHEMA ` + name + ` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return shared.URL(testDB, "search_path="+name)
}

// testDB is the database URL's schemas are made in.
const testDB = "pier_test"

// URL is the connection URL of database name on s, through its socket,
// with params (k=v) added.
func (s *Server) URL(name string, params ...string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		q.Set(k, v)
	}
	return "postgres://postgres@/" + name + "?" + q.Encode()
}

func (s *Server) exec(sql string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.admin.Exec(ctx, sql)
	return err
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(name string) (string, error) {
	if err := s.exec(`CREATE DATABASE ` + name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// createTestDB creates the database of the tests' schemas, sorting text
// as people's databases do (ICU's en-US: "_x" < "-y" < "a" < "B"), not
// bytewise as the server's C locale would, so that a store relying on
// the database's collation for its order fails here rather than in
// production. A server built without ICU gives the default collation.
func (s *Server) createTestDB() error {
	err := s.exec(`CREATE DATABASE ` + testDB + ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`)
	if err != nil && strings.Contains(err.Error(), "ICU") {
		err = s.exec(`CREATE DATABASE ` + testDB)
	}
	return err
}

// Bin finds the directory of the server binaries.
func Bin() (string, error) {
	if d := os.Getenv("PIER_POSTGRES_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest first: versions are numbers (9.6, 15, 16).
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		return int(vb*100 - va*100)
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("the PostgreSQL server binaries (initdb, postgres) are neither in /usr/lib/postgresql/*/bin nor on PATH")
}

// Start starts a server in a new temporary directory. Its settings trade
// durability for speed (fsync off: the server holds nothing worth a
// crash); settings (name=value, as postgres -c takes them) override
// them, as the benchmarks do to measure a server as it runs in
// production.
func Start(settings ...string) (_ *Server, err error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	// A short path: a Unix socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "pier-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, exit: make(chan struct{}), log: &syncBuffer{}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	cred, err := credential(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := s.command(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	args := []string{"-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB", "-c", "max_connections=200"}
	for _, kv := range settings {
		args = append(args, "-c", kv) // the last of a name wins
	}
	s.cmd = s.command(cred, filepath.Join(bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// The server dies with the test binary, even one killed by a timeout.
	s.cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exit)
	}()
	if err := s.connect(30 * time.Second); err != nil {
		return nil, err
	}
	if err := s.createTestDB(); err != nil {
		return nil, fmt.Errorf("create database %s: %w", testDB, err)
	}
	s.admin.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.admin, err = pgx.Connect(ctx, s.URL(testDB)); err != nil {
		return nil, err
	}
	// A store a failed test left open must not hang the next DROP.
	if _, err := s.admin.Exec(ctx, `SET lock_timeout = '10s'`); err != nil {
		return nil, err
	}
	return s, nil
}

// credential returns who the server runs as: the postgres user when the
// tests run as root (its binaries refuse root), owning dir; nil, the
// current user, otherwise.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the server needs the postgres user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func (s *Server) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir // the postgres user may not enter the current directory
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// connect waits for the server to take connections.
func (s *Server) connect(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			s.admin = conn
			return nil
		}
		select {
		case <-s.exit:
			return fmt.Errorf("postgres exited: %s", strings.TrimSpace(s.log.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not take connections within %s: %v\n%s", within, err, s.log.String())
		}
	}
}

// Stop ends the server at once (it holds nothing to keep) and removes
// its directory.
func (s *Server) Stop() error {
	if s.admin != nil {
		s.admin.Close(context.Background())
	}
	if s.cmd != nil && s.cmd.Process != nil {
		// SIGQUIT is PostgreSQL's immediate shutdown.
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exit:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exit
		}
	}
	return os.RemoveAll(s.dir)
}

// syncBuffer is the server's output, written by exec's copying
// goroutines and read when the server fails to start.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
