package loader

import (
	"bufio"
	"cmp"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os/exec"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/config"
	"github.com/pierhq/pier/internal/node"
)

// Sandbox evaluates CUE in child processes, where a deadline and a
// memory limit can be enforced. The CUE evaluator cannot be interrupted,
// and four lines of CUE (a comprehension over a large range) can keep it
// busy for minutes and gigabytes: in the daemon, that would stall every
// later revision and could take the host's memory. A child that runs out
// of time or memory is killed, and the file it was evaluating gets a
// diagnostic saying so: its revision fails like any invalid one, the last
// good state keeps serving, and the loader's cache keeps the verdict
// until the file (or what it imports) changes, so later revisions do not
// pay for it again.
//
// Only files that are not plain data reach a child (most catalog files
// never do). A load starts the children it needs (see pool) when its
// first such file comes up, and stops them when it ends; a child killed
// for a limit is replaced for the next file. No child outlives its load,
// nor pier (Linux: it dies with its parent).
//
// A child is sent the file and the files of the packages it imports, as
// the loader read them (from a directory or a git tree), and sends back
// the positioned tree, whose positions name the same files. It gets no
// environment but its memory limit: secrets in pier's environment stay
// out of reach of what it evaluates.
type Sandbox struct {
	// Command returns the command of a child: a process that calls
	// ServeEvaluations on its standard input and output. pier runs
	// itself, with a hidden subcommand.
	Command func() *exec.Cmd
	// Timeout bounds the evaluation of one file; zero means
	// config.DefaultEvalTimeout.
	Timeout time.Duration
	// Memory bounds the resident memory of a child, in bytes; zero means
	// config.DefaultEvalMemory. It is measured where the system tells a
	// process's resident size (Linux's /proc); elsewhere only the Go
	// runtime's soft limit, set to three quarters of it, holds.
	Memory int64
}

// evalRequest asks a child to evaluate File, given its content and that
// of the files it imports.
type evalRequest struct {
	File   string
	Module string
	Files  map[string][]byte
}

type evalResponse struct {
	Value *node.Node
	Deps  []string
	Diags catalog.Diagnostics
}

// ServeEvaluations is the child's side of a Sandbox: it answers each
// request read from r on w, until r ends.
func ServeEvaluations(r io.Reader, w io.Writer) error {
	dec := gob.NewDecoder(bufio.NewReader(r))
	bw := bufio.NewWriter(w)
	enc := gob.NewEncoder(bw)
	for {
		var req evalRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		if err := enc.Encode(answer(&req)); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
	}
}

func answer(req *evalRequest) *evalResponse {
	p, diags := parse(req.File, req.Files[req.File])
	switch {
	case len(diags) > 0:
		return &evalResponse{Diags: diags}
	case p.value != nil:
		return &evalResponse{Value: p.value}
	}
	// The files were read, and their sizes checked, by the parent;
	// fstest.MapFS is an fs.FS over them (it does not import testing).
	fsys := fstest.MapFS{}
	for name, data := range req.Files {
		fsys[name] = &fstest.MapFile{Data: data}
	}
	ev, diags := evaluate(fsys, req.Module, p, math.MaxInt64)
	if len(diags) > 0 {
		return &evalResponse{Diags: diags}
	}
	return &evalResponse{Value: ev.value, Deps: ev.deps}
}

// pool is a load's children. The first is started when the load finds
// its first file that needs evaluating (and goes on reading the others
// while it starts); another, up to the load's workers, only when a file
// has waited for a busy one longer than starting one takes. A catalog
// with a few evaluated files (most) starts one process, which costs
// about 15 ms of CPU; one evaluated throughout gets one per worker.
type pool struct {
	command func() *exec.Cmd
	timeout time.Duration
	memory  int64
	max     int64 // the size limit of one file
	idle    chan *child
	// warm is closed once the first child has answered: waiting for
	// one that is starting is not a reason to start another.
	warm     chan struct{}
	warmOnce sync.Once

	mu       sync.Mutex
	children int
}

// growAfter is how long a file waits for a busy child before the pool
// starts another: about what starting one costs.
const growAfter = 10 * time.Millisecond

func (sb *Sandbox) pool(workers int, max int64) *pool {
	return &pool{
		command: sb.Command,
		timeout: cmp.Or(sb.Timeout, config.DefaultEvalTimeout),
		memory:  cmp.Or(sb.Memory, int64(config.DefaultEvalMemory)),
		max:     max,
		idle:    make(chan *child, workers),
		warm:    make(chan struct{}),
	}
}

func (p *pool) evaluate(ctx context.Context, fsys fs.FS, module string, f *parsed, src []byte) (*evaluated, catalog.Diagnostics, error) {
	name := f.file.Filename
	req := &evalRequest{File: name, Module: module, Files: map[string][]byte{name: src}}
	if hasImports(f.file) {
		// Resolving imports reads and parses; only evaluation is
		// unbounded. The child resolves them again, from these files.
		_, im, diags := instanceOf(fsys, module, f, p.max)
		if len(diags) > 0 {
			return nil, diags, nil
		}
		maps.Copy(req.Files, im.srcs)
	}
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer func() { p.idle <- c }()
	if c.cmd == nil {
		if err := c.start(); err != nil {
			return nil, nil, fmt.Errorf("start the CUE evaluator: %w", err)
		}
	}
	resp, d, err := c.call(ctx, req)
	p.warmOnce.Do(func() { close(p.warm) })
	if err != nil || d != nil {
		return nil, d, err
	}
	if len(resp.Diags) > 0 {
		return nil, resp.Diags, nil
	}
	return &evaluated{value: resp.Value, deps: resp.Deps}, nil, nil
}

// prepare starts the first child, which a load's files will need once
// the plain ones are read; a child that cannot start now is tried again
// when a file needs it.
func (p *pool) prepare() {
	if c := p.grow(true); c != nil {
		c.start()
		p.idle <- c
	}
}

// acquire returns an idle child, or a new one as described at pool.
func (p *pool) acquire(ctx context.Context) (*child, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	if c := p.grow(true); c != nil {
		return c, nil
	}
	select {
	case c := <-p.idle:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.warm:
	}
	wait := time.NewTimer(growAfter)
	defer wait.Stop()
	for {
		select {
		case c := <-p.idle:
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait.C:
			if c := p.grow(false); c != nil {
				return c, nil
			}
		}
	}
}

// grow adds a child unless the pool is full, or, for the first, unless
// it has one.
func (p *pool) grow(first bool) *child {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.children == cap(p.idle) || first && p.children > 0 {
		return nil
	}
	p.children++
	return &child{pool: p}
}

// close ends the children, which are idle once the load is done.
func (p *pool) close() {
	for {
		select {
		case c := <-p.idle:
			c.close()
		default:
			return
		}
	}
}

// child is one evaluating process, started when first needed and again
// after it was killed.
type child struct {
	pool   *pool
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	enc    *gob.Encoder
	dec    *gob.Decoder
	stderr *tail
}

func (c *child) start() error {
	cmd := c.pool.command()
	cmd.Env = append(cmd.Env, fmt.Sprintf("GOMEMLIMIT=%d", c.pool.memory/4*3))
	isolate(cmd)
	c.stderr = &tail{}
	cmd.Stderr = c.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.cmd, c.stdin = cmd, in
	c.enc, c.dec = gob.NewEncoder(in), gob.NewDecoder(bufio.NewReader(out))
	return nil
}

// memoryPoll is how often a child's resident size is looked at while it
// evaluates. The greediest CUE measured grows about 400 MB a second: a
// child goes a few megabytes past its limit at most before it is killed.
const memoryPoll = 10 * time.Millisecond

// call sends one request and waits for its answer within the limits.
// Exceeding one kills the child and returns the file's diagnostic;
// ctx's end kills it and returns ctx's error.
func (c *child) call(ctx context.Context, req *evalRequest) (*evalResponse, catalog.Diagnostics, error) {
	type result struct {
		resp *evalResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if err := c.enc.Encode(req); err != nil {
			done <- result{err: err}
			return
		}
		resp := &evalResponse{}
		done <- result{resp, c.dec.Decode(resp)}
	}()
	deadline := time.NewTimer(c.pool.timeout)
	defer deadline.Stop()
	var poll <-chan time.Time
	if _, ok := residentSize(c.cmd.Process.Pid); ok {
		t := time.NewTicker(memoryPoll)
		defer t.Stop()
		poll = t.C
	}
	limit := func(msg string) (*evalResponse, catalog.Diagnostics, error) {
		c.kill()
		<-done
		c.stop()
		return nil, catalog.Diagnostics{{Pos: catalog.Pos{File: req.File}, Kind: catalog.KindLimit, Message: msg}}, nil
	}
	for {
		select {
		case r := <-done:
			if r.err == nil {
				return r.resp, nil, nil
			}
			state := c.stop()
			return nil, catalog.Diagnostics{{Pos: catalog.Pos{File: req.File}, Kind: catalog.KindEval, Message: fmt.Sprintf(
				"the CUE evaluator stopped while evaluating this file (%s): %s", state, catalog.Excerpt(c.stderr.last()))}}, nil
		case <-ctx.Done():
			c.kill()
			<-done
			c.stop()
			return nil, nil, ctx.Err()
		case <-deadline.C:
			return limit(fmt.Sprintf("evaluation exceeded %s (option eval-timeout): CUE did not finish this file in time; look for comprehensions over large ranges", c.pool.timeout))
		case <-poll:
			if n, _ := residentSize(c.cmd.Process.Pid); n > c.pool.memory {
				return limit(fmt.Sprintf("evaluation exceeded %s of memory (option eval-memory): look for comprehensions over large ranges", formatSize(c.pool.memory)))
			}
		}
	}
}

func (c *child) kill() { c.cmd.Process.Kill() }

// stop reaps the child, which has exited or been killed, and returns how
// it ended; the next call starts a new one.
func (c *child) stop() string {
	c.stdin.Close()
	err := c.cmd.Wait()
	c.cmd = nil
	if err != nil {
		return err.Error()
	}
	return "exited"
}

// close ends an idle child: without input it exits. One that does not
// within a second is killed.
func (c *child) close() {
	if c.cmd == nil {
		return
	}
	proc := c.cmd.Process
	t := time.AfterFunc(time.Second, func() { proc.Kill() })
	c.stop()
	t.Stop()
}

// tail keeps the last few kilobytes a child wrote to its standard error:
// what a crash (a Go runtime fatal error, a panic) says.
type tail struct {
	mu sync.Mutex
	b  []byte
}

const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailSize {
		t.b = t.b[len(t.b)-tailSize:]
	}
	return len(p), nil
}

// last returns the first line of the last thing written that says
// something: "fatal error: runtime: out of memory", "panic: ...".
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, line := range strings.Split(string(t.b), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") {
			return line
		}
	}
	lines := strings.Fields(strings.TrimSpace(string(t.b)))
	if len(lines) == 0 {
		return "it said nothing"
	}
	return strings.Join(lines, " ")
}
