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
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/config"
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

// Options tune a Loader.
type Options struct {
	// Workers is how many files are loaded at once; <= 0 means one per
	// CPU.
	Workers int
	// MaxFileSize bounds one catalog file, and MaxRevisionSize all of a
	// revision's files together, in bytes: the loader holds about 18
	// bytes of memory per byte of catalog, so a file or revision beyond
	// is refused, named, before it is read. Zero means
	// config.DefaultMaxFileSize or config.DefaultMaxRevisionSize.
	MaxFileSize, MaxRevisionSize int64
	// Sandbox, when set, evaluates CUE in child processes, within its
	// time and memory limits (see Sandbox). Without one, CUE runs in
	// this process with no bound: for tests and tools over trusted
	// catalogs; every pier command sets one.
	Sandbox *Sandbox
}

// Loader loads catalogs and caches what it can between loads. It is safe
// for concurrent use; loads are serialised.
type Loader struct {
	schemas *schema.Schemas
	workers int
	maxFile int64
	maxRev  int64
	sandbox *Sandbox

	mu        sync.Mutex
	files     map[string]*fileEntry // by path, from the last load
	total     int64                 // the sizes of files' entries, added up
	listDiags catalog.Diagnostics   // from listing (ignore files)
	ignore    *ignorer              // from listing: which paths are not catalog files
	module    string
	// stale is set while files may not describe the last revision given
	// (a load that failed or was refused part way); the next Reload is
	// then a full Load, which compares against files as they are.
	stale bool
	// validators caches compiled blueprints by the blueprint's hash, and
	// shapes the schema verdicts of other objects by content hash.
	validators map[string]*validatorEntry
	shapes     map[string]catalog.Diagnostics
	ix         *index
}

type fileEntry struct {
	hash  string
	size  int64             // bytes read: 0 for a file refused unread
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

// New returns a loader with the default options but for workers (<= 0
// means one per CPU).
func New(workers int) (*Loader, error) {
	return NewWith(Options{Workers: workers})
}

// NewWith returns a loader with the given options.
func NewWith(o Options) (*Loader, error) {
	s, err := schema.Compile()
	if err != nil {
		return nil, err
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = config.DefaultMaxFileSize
	}
	if o.MaxRevisionSize <= 0 {
		o.MaxRevisionSize = config.DefaultMaxRevisionSize
	}
	return &Loader{
		schemas:    s,
		workers:    o.Workers,
		maxFile:    o.MaxFileSize,
		maxRev:     o.MaxRevisionSize,
		sandbox:    o.Sandbox,
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
	return l.load(ctx, fsys)
}

func (l *Loader) load(ctx context.Context, fsys fs.FS) (*Result, error) {
	l.stale = true // until this load is assembled
	paths, types, ig, listDiags, err := listFiles(fsys, l.maxFile)
	if err != nil {
		return nil, fmt.Errorf("list catalog files: %w", err)
	}
	l.ignore = ig
	if l.module, err = moduleOf(fsys, l.maxFile); err != nil {
		d := catalog.Diagnostic{Pos: catalog.Pos{File: "cue.mod/module.cue"}, Kind: catalog.KindParse, Message: err.Error()}
		if r, ok := errors.AsType[*refusal](err); ok {
			d = r.diagnostic()
		}
		listDiags = append(listDiags, d)
	}
	l.listDiags = listDiags
	listed := make(map[string]bool, len(paths))
	work := make([]workItem, len(paths))
	for i, p := range paths {
		listed[p] = true
		work[i] = workItem{path: p, typ: types[p]}
	}
	var gone []fileChange
	for p, e := range l.files {
		if !listed[p] {
			gone = append(gone, fileChange{path: p, old: e})
		}
	}
	return l.update(ctx, fsys, work, gone, true)
}

// Reload re-reads only the named paths (added, modified or deleted since
// the last load) and trusts the rest of the previous listing. It is the
// fast path for a watcher or a git diff that knows what changed. A change
// to an ignore file or to cue.mod falls back to a full Load, as does a
// Reload after a load that did not finish. Changed paths that a full
// listing would skip (run requests under RunsDir, hidden or ignored
// files) are skipped here too.
func (l *Loader) Reload(ctx context.Context, fsys fs.FS, changed []string) (*Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stale || slices.ContainsFunc(changed, isStructural) {
		return l.load(ctx, fsys)
	}
	l.stale = true // until this load is assembled
	var (
		work   []workItem
		gone   []fileChange
		queued = map[string]bool{}
	)
	for _, p := range changed {
		if syntaxOf(p) == syntaxNone || l.ignore.skipPath(p, false) || queued[p] {
			continue
		}
		queued[p] = true
		fi, err := fs.Lstat(fsys, p)
		if errors.Is(err, fs.ErrNotExist) {
			if old, ok := l.files[p]; ok {
				gone = append(gone, fileChange{path: p, old: old})
			}
			continue
		}
		var typ fs.FileMode
		if err == nil {
			typ = fi.Mode().Type()
		}
		work = append(work, workItem{path: p, typ: typ})
	}
	// Files that import a changed file must be evaluated again.
	for p, e := range l.files {
		if queued[p] {
			continue
		}
		for _, c := range changed {
			if _, ok := e.deps[c]; ok {
				queued[p] = true
				work = append(work, workItem{path: p, typ: typeUnknown})
				break
			}
		}
	}
	return l.update(ctx, fsys, work, gone, false)
}

func isStructural(p string) bool {
	return path.Base(p) == IgnoreFile || p == "cue.mod" || len(p) > 8 && p[:8] == "cue.mod/"
}

// workItem is a file to bring up to date, with its type as listed (zero
// for a regular file).
type workItem struct {
	path string
	typ  fs.FileMode
}

// update brings the entries of work up to date, drops those of gone,
// and assembles the result. Nothing of the loader's state changes unless
// every file was read: a load that fails, or a revision over its size
// limit, leaves the entries of the last complete load (and stale set).
func (l *Loader) update(ctx context.Context, fsys fs.FS, work []workItem, gone []fileChange, check bool) (*Result, error) {
	// The revision's budget starts with the files that stay as they are.
	kept := l.total
	for _, c := range gone {
		kept -= c.old.size
	}
	for _, w := range work {
		if old := l.files[w.path]; old != nil {
			kept -= old.size
		}
	}
	b := &budget{}
	b.left.Store(l.maxRev - kept)
	refreshed, evaluated, err := l.refresh(ctx, fsys, work, b, check)
	if errors.Is(err, errRevisionTooLarge) {
		return l.tooLarge(fsys, work, gone), nil
	}
	if err != nil {
		return nil, err
	}
	for _, c := range gone {
		delete(l.files, c.path)
		l.total -= c.old.size
	}
	for _, c := range refreshed {
		l.files[c.path] = c.new
		l.total += c.new.size
		if c.old != nil {
			l.total -= c.old.size
		}
	}
	l.stale = false
	return l.assemble(append(gone, refreshed...), evaluated)
}

// refresh brings the entries for work up to date, in parallel, and
// returns those whose entry changed. With check set, an entry is reused
// when its hash (and its imports') is unchanged; without, the paths are
// known to have changed. It does not change l.files.
func (l *Loader) refresh(ctx context.Context, fsys fs.FS, work []workItem, b *budget, check bool) ([]fileChange, int, error) {
	hasher, _ := fsys.(Hasher)
	results := make([]fileChange, len(work))
	fresh := make([]bool, len(work))
	waiting := make([]*pending, len(work))
	ev := l.evaluator()
	defer ev.close()
	err := parallel(ctx, l.workers, len(work), func(i int) error {
		old := l.files[work[i].path] // read-only while workers run
		e, pf, f, err := l.loadFile(fsys, hasher, work[i], old, b, check)
		if pf != nil {
			ev.prepare()
		}
		results[i] = fileChange{path: work[i].path, old: old, new: e}
		waiting[i], fresh[i] = pf, f
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var todo []*pending
	for _, pf := range waiting {
		if pf != nil {
			todo = append(todo, pf)
		}
	}
	if err := parallel(ctx, l.workers, len(todo), func(i int) error {
		return l.complete(ctx, fsys, hasher, ev, todo[i])
	}); err != nil {
		return nil, 0, err
	}
	var (
		changes   []fileChange
		evaluated int
	)
	for i, c := range results {
		if fresh[i] {
			evaluated++
		}
		if c.new != c.old {
			changes = append(changes, c)
		}
	}
	return changes, evaluated, nil
}

// parallel calls do(i) for every i in [0, n) on up to workers
// goroutines. It stops handing out work at the first error or when ctx
// is done, and returns that error: the first in the order of i, or
// ctx's.
func parallel(ctx context.Context, workers, n int, do func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if errs[i] = do(i); errs[i] != nil {
					failed.Store(true)
				}
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil && !failed.Load(); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// loadFile returns the entry for one file, reusing old when its hash and
// the hashes of the files it imports are unchanged. A file the loader
// will not read (a link out of the catalog, not a regular file, beyond
// the size limit) gets an entry with that diagnostic. A file that needs
// the CUE evaluator comes back pending, its entry to be completed by
// complete.
func (l *Loader) loadFile(fsys fs.FS, hasher Hasher, w workItem, old *fileEntry, b *budget, check bool) (*fileEntry, *pending, bool, error) {
	p := w.path
	var hash string
	if hasher != nil && w.typ&fs.ModeSymlink == 0 {
		h, err := hasher.Hash(p)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read %s: %w", p, err)
		}
		if check && old != nil && old.hash == h && depsUnchanged(fsys, hasher, old.deps, l.maxFile) {
			if !b.take(old.size) {
				return nil, nil, false, errRevisionTooLarge
			}
			return old, nil, false, nil
		}
		hash = h
	}
	src, err := readSource(fsys, p, w.typ, l.maxFile, b)
	if r, ok := errors.AsType[*refusal](err); ok {
		return &fileEntry{diags: catalog.Diagnostics{r.diagnostic()}}, nil, true, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if hash == "" {
		hash = sum(src)
	}
	if check && old != nil && old.hash == hash && depsUnchanged(fsys, hasher, old.deps, l.maxFile) {
		return old, nil, false, nil
	}
	e := &fileEntry{hash: hash, size: int64(len(src))}
	parsed, diags := parse(p, src)
	if len(diags) > 0 {
		e.diags = diags
		return e, nil, true, nil
	}
	if parsed.value == nil {
		return e, &pending{e: e, parsed: parsed, src: src}, true, nil
	}
	e.x = extract(p, parsed.value, hash)
	return e, nil, true, nil
}

// pending is a file whose entry waits for the CUE evaluator. refresh
// evaluates such files after reading all the others, so that the
// evaluator's child process starts while the plain files are read.
type pending struct {
	e      *fileEntry
	parsed *parsed
	src    []byte
}

// complete completes a pending file's entry, with its value or the
// evaluation's diagnostics.
func (l *Loader) complete(ctx context.Context, fsys fs.FS, hasher Hasher, ev evaluator, pf *pending) error {
	e := pf.e
	v, diags, err := ev.evaluate(ctx, fsys, l.module, pf.parsed, pf.src)
	if err != nil {
		return err
	}
	if len(diags) > 0 {
		e.diags = diags
		return nil
	}
	e.deps = map[string]string{}
	for _, d := range v.deps {
		e.deps[d] = fileHash(fsys, hasher, d, l.maxFile)
	}
	e.x = extract(pf.parsed.file.Filename, v.value, contentKey(e.hash, e.deps))
	return nil
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

func depsUnchanged(fsys fs.FS, hasher Hasher, deps map[string]string, max int64) bool {
	for p, h := range deps {
		if fileHash(fsys, hasher, p, max) != h {
			return false
		}
	}
	return true
}

func fileHash(fsys fs.FS, hasher Hasher, p string, max int64) string {
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
	b, err := readSource(fsys, p, typeUnknown, max, nil)
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
