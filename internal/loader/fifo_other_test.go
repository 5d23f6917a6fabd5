//go:build !unix

package loader

import "errors"

func mkfifo(string) error { return errors.ErrUnsupported }
