package source

import (
	"io/fs"
	"time"
)

// Revision is one state of the catalog, as a source yields it.
type Revision struct {
	// ID names the revision: the commit hash for a git source, a
	// content-derived id ("dir:…") for a directory.
	ID string
	// FS is the catalog tree at this revision, rooted at the configured
	// sub-directory.
	FS fs.FS
	// Changed lists the files (slash-separated, relative to FS's root)
	// added, modified or deleted since the previous revision this source
	// yielded. It is nil when that is not known, on the first revision
	// or after the source lost track, and the loader must then rescan
	// everything. An empty, non-nil slice means nothing under the root
	// changed.
	Changed []string
	// Time is when the revision was made: the commit's committer time,
	// or the newest modification time of a directory's files.
	Time time.Time
}
