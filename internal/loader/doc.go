// Package loader turns a catalog tree — a directory or a git revision —
// into a validated catalog.Catalog and every diagnostic an author needs.
//
// # Each file stands alone
//
// pier evaluates every catalog file on its own. CUE files of the same
// package are NOT unified across files, as `cue vet` of a whole package
// would; a file shares definitions and defaults with others only by
// importing a package (from the catalog's own CUE module, from
// cue.mod/pkg, or pier's schema at github.com/pierhq/pier/schema). The
// reasons:
//
//   - A file means what it says: reviewing a pull request that changes
//     one file needs only that file and what it imports, never the rest
//     of its directory.
//   - The same object declared in two files is always an error naming
//     both places, whatever their syntax, instead of silently unifying.
//   - The cache is exact and cheap: a file's result depends on its
//     content and on the files of the packages it imports, so a change
//     re-evaluates that file and exactly the files that import a changed
//     package.
//   - Memory stays flat: each evaluation gets a fresh CUE context.
//
// To get the same verdict from the plain cue tool, vet files one at a time
// (`cue vet -c file.cue`), which is what pier does.
//
// # Fast path
//
// Most catalog files are plain data: literals, structs and lists. Those
// never reach the CUE evaluator: their syntax tree is walked straight into
// a positioned node tree (see plainFile), which means the same thing.
// Entities are then checked against their blueprint by the Go validator
// in internal/validate, whose verdicts are tested against CUE's. Files
// with references, definitions, imports or constraints are evaluated by
// CUE, then take the same route.
//
// # Bounds
//
// A revision is untrusted input, and none may stall the loader or take
// the host's memory. Every file is read through readSource (read.go),
// which refuses, as the file's diagnostic, a symbolic link out of the
// catalog's root, anything but a regular file, and a file over the size
// limit, before reading it; a revision whose files add up to more than
// its limit stops being read. CUE evaluation cannot be interrupted, so
// with a Sandbox (every pier command sets one) the files that need it
// are evaluated in child processes killed beyond a time or memory limit
// (sandbox.go). A refused or failed file fails its revision like any
// invalid one; the cache keeps the verdict until the file changes.
//
// # Cache
//
// A Loader keeps each file's parsed objects by content hash (the git blob
// hash when the source provides it), each blueprint's compiled validator
// by the blueprint's hash, and each entity's verdict by the pair of
// hashes. Reload re-reads only the files that changed.
package loader
