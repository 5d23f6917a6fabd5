// Package source is where catalog revisions come from. The daemon
// reconciles every Revision a source yields.
//
// There are two kinds of source, one file each:
//
//   - Git (git.go) follows one branch of a remote repository. Its clone
//     lives in a bare repository in a cache directory, survives restarts
//     and is only ever fetched into, never cloned again. A revision's
//     files are read straight from the object store (gitfs), so there is
//     no work tree to keep in sync and no checkout to wait for.
//   - Dir (dir.go, watch.go) serves a plain directory for local
//     development, whether or not it is a git work tree, and watches it.
//
// A Poller (poller.go) calls Git.Fetch on a cron schedule.
//
// # Why Git does its own fetch
//
// go-git's Remote.Fetch picks the transport from a process-wide table
// (client.Protocols). Its file transport runs the git binary, and the only
// way to serve file:// and local paths in-process is to replace that
// table's entry: a global, unsynchronised write that every other go-git
// user in the process would see. Git therefore moves objects itself
// (fetch.go), with no global state:
//
//   - Over HTTP(S), SSH and git://, it speaks the protocol on a transport
//     the Git owns. One session first reads the ref advertisement (what
//     git ls-remote does, and what Flux's source-controller checks before
//     fetching) and asks for objects only when the branch moved, so an
//     unchanged poll transfers no objects.
//   - From a local repository it copies the missing objects from one
//     object store to the other, walking only the trees the cache lacks.
//     Serving it through go-git's in-process protocol server instead made
//     a one-commit fetch from a 20,000-file repository cost about 100 ms
//     (the server walks everything the client already has) and a first
//     clone seconds (it delta-compresses everything it sends).
//
// The clone is full, not shallow: go-git's fetches into shallow clones
// can fail with "object not found", and a full history lets every fetch
// negotiate from the cached head. Catalog repositories are small; a large
// one costs memory on the first fetch (go-git holds much of a pack in
// memory while indexing it).
package source
