package config

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits bound what one revision may cost pier: the size of its files,
// and the time and memory CUE may spend evaluating one file. pier serve,
// validate and diff share them.
type Limits struct {
	MaxFileSize     ByteSize
	MaxRevisionSize ByteSize
	EvalTimeout     time.Duration
	EvalMemory      ByteSize
}

// The limits' defaults, which the loader also takes for zero options.
// A real catalog's largest files are a few hundred kilobytes (20,000
// services in one CUE file each are 9 MB in all); the revision default
// leaves room for about half a million entities, which the loader holds
// in about 4.5 GB. Evaluating a real catalog file takes milliseconds and
// a few megabytes; an evaluating child starts at about 25 MB.
const (
	DefaultMaxFileSize     = 10 << 20
	DefaultMaxRevisionSize = 256 << 20
	DefaultEvalTimeout     = 10 * time.Second
	DefaultEvalMemory      = 512 << 20
)

// minEvalMemory is the least memory limit an evaluating child can work
// in.
const minEvalMemory = 64 << 20

// Flags declares the limits' options on fs, set to their defaults.
func (l *Limits) Flags(fs *flag.FlagSet) {
	l.MaxFileSize, l.MaxRevisionSize = DefaultMaxFileSize, DefaultMaxRevisionSize
	l.EvalTimeout, l.EvalMemory = DefaultEvalTimeout, DefaultEvalMemory
	fs.Var(&l.MaxFileSize, "max-file-size", "the largest `size` a catalog file may have (10MB, 1GB: powers of 1024); a larger one fails its revision, unread")
	fs.Var(&l.MaxRevisionSize, "max-revision-size", "the largest `size` all of a revision's catalog files may add up to; a larger revision fails, naming its largest files")
	fs.DurationVar(&l.EvalTimeout, "eval-timeout", l.EvalTimeout, "the longest CUE may take to evaluate one file (in a child process, killed beyond); the revision fails with \"evaluation exceeded\" naming the file")
	fs.Var(&l.EvalMemory, "eval-memory", "the most memory (`size`) CUE may use to evaluate one file (Linux; its child process is killed beyond)")
}

// Check reports limits that parse but cannot work.
func (l *Limits) Check() error {
	var errs []error
	if l.MaxFileSize <= 0 {
		errs = append(errs, fmt.Errorf("option max-file-size: %v is not positive", l.MaxFileSize))
	}
	if l.MaxRevisionSize < l.MaxFileSize {
		errs = append(errs, fmt.Errorf("option max-revision-size: %v is less than max-file-size (%v)", l.MaxRevisionSize, l.MaxFileSize))
	}
	if l.EvalTimeout <= 0 {
		errs = append(errs, fmt.Errorf("option eval-timeout: %v is not positive", l.EvalTimeout))
	}
	if l.EvalMemory < minEvalMemory {
		errs = append(errs, fmt.Errorf("option eval-memory: %v is less than the %v an evaluating process needs", l.EvalMemory, ByteSize(minEvalMemory)))
	}
	return errors.Join(errs...)
}

// ByteSize is a size option: a number of bytes with an optional unit,
// B, KB, MB or GB (powers of 1024; KiB, MiB and GiB mean the same).
type ByteSize int64

var units = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
	"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
	"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30,
}

func (b *ByteSize) Set(s string) error {
	t := strings.ToUpper(strings.TrimSpace(s))
	num := strings.TrimRightFunc(t, unicode.IsLetter)
	mult, ok := units[t[len(num):]]
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || f < 0 || f*float64(mult) > math.MaxInt64 {
		return fmt.Errorf("%q is not a size (bytes, or a number with KB, MB or GB)", s)
	}
	*b = ByteSize(f * float64(mult))
	return nil
}

func (b ByteSize) String() string {
	for _, u := range []string{"GB", "MB", "KB"} {
		if n := units[u]; int64(b) >= n && int64(b)%n == 0 {
			return fmt.Sprintf("%d%s", int64(b)/n, u)
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
