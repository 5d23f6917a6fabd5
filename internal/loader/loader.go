package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"sync"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/validate"
	"github.com/pierhq/pier/schema"
)

// Hasher is implemented by sources that know a file's content hash
// without reading it, such as a git tree (the blob hash).
type Hasher interface {
	Hash(path string) (string, error)
}

// Result is one load: the catalog, its objects in canonical form, and
// every diagnostic. A result with diagnostics must not be applied; its
// catalog holds whatever was valid, for reports.
type Result struct {
	Catalog     *catalog.Catalog
	Objects     map[catalog.Key]catalog.Object
	Diagnostics catalog.Diagnostics
	Files       int
	// Evaluated counts the files that needed work (not served from the
	// cache) in this load.
	Evaluated int
	// Changed lists the entities whose declarations changed since the
	// previous load of this Loader (all of them on the first), for
	// incremental work downstream. Objects is the caller's to modify: each
	// result gets a map of its own.
	Changed []catalog.Key
}

// OK reports whether the revision is valid.
func (r *Result) OK() bool { return len(r.Diagnostics) == 0 }

// Loader loads catalogs and caches what it can between loads. It is safe
// for concurrent use; loads are serialised.
type Loader struct {
	schemas *schema.Schemas
	workers int

	mu        sync.Mutex
	files     map[string]*fileEntry // by path, from the last load
	listDiags catalog.Diagnostics   // from listing (ignore files)
	ignore    *ignorer              // from listing: which paths are not catalog files
	module    string
	// validators caches compiled blueprints by the blueprint's hash, and
	// shapes the schema verdicts of other objects by content hash.
	validators map[string]*validatorEntry
	shapes     map[string]catalog.Diagnostics
	ix         *index
}

type fileEntry struct {
	hash  string
	deps  map[string]string // imported file -> its hash when evaluated
	x     *extracted
	diags catalog.Diagnostics
}

type validatorEntry struct {
	v   *validate.Validator
	bp  *catalog.Blueprint
	err error
}

// fileChange is one file whose entry changed in a load: old or new is nil
// for a file that appeared or went away.
type fileChange struct {
	path     string
	old, new *fileEntry
}

// New returns a loader. workers <= 0 means one per CPU.
func New(workers int) (*Loader, error) {
	s, err := schema.Compile()
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Loader{
		schemas:    s,
		workers:    workers,
		files:      map[string]*fileEntry{},
		ignore:     &ignorer{},
		validators: map[string]*validatorEntry{},
		shapes:     map[string]catalog.Diagnostics{},
		ix:         newIndex(),
	}, nil
}

// Load reads the whole tree. Files whose hash is unchanged since the last
// load are not parsed again.
func (l *Loader) Load(ctx context.Context, fsys fs.FS) (*Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	paths, ig, listDiags, err := listFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("list catalog files: %w", err)
	}
	l.ignore = ig
	if l.module, err = moduleOf(fsys); err != nil {
		listDiags = append(listDiags, catalog.Diagnostic{Pos: catalog.Pos{File: "cue.mod/module.cue"}, Kind: catalog.KindParse, Message: err.Error()})
	}
	l.listDiags = listDiags
	listed := make(map[string]bool, len(paths))
	for _, p := range paths {
		listed[p] = true
	}
	var changes []fileChange
	for p, e := range l.files {
		if !listed[p] {
			changes = append(changes, fileChange{path: p, old: e})
			delete(l.files, p)
		}
	}
	refreshed, evaluated, err := l.refresh(ctx, fsys, paths, true)
	if err != nil {
		return nil, err
	}
	return l.assemble(append(changes, refreshed...), evaluated)
}

// Reload re-reads only the named paths (added, modified or deleted since
// the last load) and trusts the rest of the previous listing. It is the
// fast path for a watcher or a git diff that knows what changed. A change
// to an ignore file or to cue.mod falls back to a full Load. Changed paths
// that a full listing would skip (run requests under RunsDir, hidden or
// ignored files) are skipped here too.
func (l *Loader) Reload(ctx context.Context, fsys fs.FS, changed []string) (*Result, error) {
	for _, p := range changed {
		if isStructural(p) {
			return l.Load(ctx, fsys)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var (
		work    []string
		changes []fileChange
		queued  = map[string]bool{}
	)
	for _, p := range changed {
		if syntaxOf(p) == syntaxNone || l.ignore.skipPath(p, false) || queued[p] {
			continue
		}
		queued[p] = true
		if _, err := fs.Stat(fsys, p); errors.Is(err, fs.ErrNotExist) {
			if old, ok := l.files[p]; ok {
				changes = append(changes, fileChange{path: p, old: old})
				delete(l.files, p)
			}
			continue
		}
		work = append(work, p)
	}
	// Files that import a changed file must be evaluated again.
	for p, e := range l.files {
		if queued[p] {
			continue
		}
		for _, c := range changed {
			if _, ok := e.deps[c]; ok {
				queued[p] = true
				work = append(work, p)
				break
			}
		}
	}
	refreshed, evaluated, err := l.refresh(ctx, fsys, work, false)
	if err != nil {
		return nil, err
	}
	return l.assemble(append(changes, refreshed...), evaluated)
}

func isStructural(p string) bool {
	return path.Base(p) == IgnoreFile || p == "cue.mod" || len(p) > 8 && p[:8] == "cue.mod/"
}

// refresh brings the entries for paths up to date, in parallel, and
// returns those whose entry changed. With check set, an entry is reused
// when its hash (and its imports') is unchanged; without, the paths are
// known to have changed.
func (l *Loader) refresh(ctx context.Context, fsys fs.FS, paths []string, check bool) ([]fileChange, int, error) {
	hasher, _ := fsys.(Hasher)
	results := make([]fileChange, len(paths))
	fresh := make([]bool, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < l.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				old := l.files[paths[i]] // read-only while workers run
				e, f, err := l.loadFile(fsys, hasher, paths[i], old, check)
				results[i] = fileChange{path: paths[i], old: old, new: e}
				fresh[i], errs[i] = f, err
			}
		}()
	}
	for i := range paths {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var (
		changes   []fileChange
		evaluated int
	)
	for i, c := range results {
		if errs[i] != nil {
			return nil, 0, errs[i]
		}
		if fresh[i] {
			evaluated++
		}
		if c.new != c.old {
			l.files[c.path] = c.new
			changes = append(changes, c)
		}
	}
	return changes, evaluated, nil
}

// loadFile returns the entry for one file, reusing old when its hash and
// the hashes of the files it imports are unchanged.
func (l *Loader) loadFile(fsys fs.FS, hasher Hasher, p string, old *fileEntry, check bool) (*fileEntry, bool, error) {
	var (
		src  []byte
		hash string
		err  error
	)
	if hasher != nil {
		hash, err = hasher.Hash(p)
	} else {
		src, err = fs.ReadFile(fsys, p)
		hash = sum(src)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	if check && old != nil && old.hash == hash && depsUnchanged(fsys, hasher, old.deps) {
		return old, false, nil
	}
	if src == nil {
		if src, err = fs.ReadFile(fsys, p); err != nil {
			return nil, false, fmt.Errorf("read %s: %w", p, err)
		}
	}
	e := &fileEntry{hash: hash}
	parsed, diags := parse(p, src)
	if len(diags) > 0 {
		e.diags = diags
		return e, true, nil
	}
	root := parsed.value
	if root == nil {
		ev, diags := evaluate(fsys, l.module, parsed)
		if len(diags) > 0 {
			e.diags = diags
			return e, true, nil
		}
		root = ev.value
		e.deps = map[string]string{}
		for _, d := range ev.deps {
			e.deps[d] = fileHash(fsys, hasher, d)
		}
	}
	e.x = extract(p, root, contentKey(hash, e.deps))
	return e, true, nil
}

// contentKey identifies what a file evaluates to: its own content and,
// for a file with imports, the content of every file it imports.
func contentKey(hash string, deps map[string]string) string {
	if len(deps) == 0 {
		return hash
	}
	names := make([]string, 0, len(deps))
	for d := range deps {
		names = append(names, d)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(hash))
	for _, d := range names {
		fmt.Fprintf(h, "\x00%s\x00%s", d, deps[d])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func depsUnchanged(fsys fs.FS, hasher Hasher, deps map[string]string) bool {
	for p, h := range deps {
		if fileHash(fsys, hasher, p) != h {
			return false
		}
	}
	return true
}

func fileHash(fsys fs.FS, hasher Hasher, p string) string {
	if len(p) > len(schema.VendorDir) && p[:len(schema.VendorDir)] == schema.VendorDir {
		return "embedded" // pier's own schema changes only with the binary
	}
	if hasher != nil {
		h, err := hasher.Hash(p)
		if err != nil {
			return ""
		}
		return h
	}
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return ""
	}
	return sum(b)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// decodeNode decodes a node into v through its canonical JSON.
func decodeNode(n *node.Node, v any) error {
	return catalog.Decode(n.JSON(), v)
}
