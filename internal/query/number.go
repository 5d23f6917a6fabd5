package query

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/pierhq/pier/internal/decimal"
)

// num is a JSON number held for exact comparison. lit is its decimal
// literal as written; when lit is empty the number came from a float64
// (a runtime value, or a Go-built query) and stands for the shortest
// decimal that round-trips to f, which is what a human wrote to get it.
//
// Comparison goes through f first: correctly rounded parsing is monotonic,
// so f(a) < f(b) proves a < b. Only when the floats tie does the literal
// decide, which keeps 9007199254740993 > 9007199254740992 true without
// paying for exact arithmetic on every comparison.
type num struct {
	f   float64
	lit string
}

// Float returns the float64 the engine orders a number value by, and
// false for a value that is not a number. Comparisons of numbers whose
// floats differ agree with their floats (correctly rounded parsing is
// monotonic); only equal floats may still differ. An index ordered by
// Float can therefore narrow a numeric range rule to candidates, as
// long as it keeps the floats at its bounds.
func Float(v any) (float64, bool) {
	n, ok := numOf(v)
	return n.f, ok
}

// numOf reads a number from the Go values JSON decoding and hand-built
// maps produce. It reports false for anything else, including a
// json.Number that is not a number.
func numOf(v any) (num, bool) {
	switch x := v.(type) {
	case json.Number:
		return parseNum(string(x))
	case float64:
		if math.IsNaN(x) {
			return num{}, false
		}
		return num{f: x}, true
	case float32:
		return numOf(float64(x))
	case int:
		return intNum(int64(x)), true
	case int64:
		return intNum(x), true
	case int32:
		return intNum(int64(x)), true
	case uint64:
		if x > 1<<53 {
			return num{f: float64(x), lit: strconv.FormatUint(x, 10)}, true
		}
		return num{f: float64(x)}, true
	case uint:
		return numOf(uint64(x))
	case uint32:
		return num{f: float64(x)}, true
	}
	return num{}, false
}

// intNum keeps small integers literal-free: a float64 holds them exactly.
func intNum(i int64) num {
	if i >= -(1<<53) && i <= 1<<53 {
		return num{f: float64(i)}
	}
	return num{f: float64(i), lit: strconv.FormatInt(i, 10)}
}

// parseNum parses a JSON number literal. Out-of-range literals are kept:
// they parse to ±Inf or 0, which still orders them correctly against
// ordinary numbers, and the literal settles ties.
func parseNum(s string) (num, bool) {
	// strconv also reads "Inf", "NaN", hex floats and underscores; JSON
	// has none of them, and none can be spelled with these bytes.
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return num{}, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return num{}, false
	}
	return num{f: f, lit: s}, true
}

// literal returns the number's decimal literal, formatting f if needed.
func (n num) literal() string {
	if n.lit != "" {
		return n.lit
	}
	return strconv.FormatFloat(n.f, 'g', -1, 64)
}

// cmpNum compares a and b exactly and returns -1, 0 or +1.
func cmpNum(a, b num) int {
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	// The floats tie; decide on the decimals.
	if a.lit == "" && b.lit == "" {
		return 0
	}
	if a.lit == "" || b.lit == "" {
		// One side is a float64. If the other literal has at most 15
		// significant digits and is a normal number, no other such
		// decimal rounds to the same float, so the float's shortest
		// decimal is that literal: they are equal. This is the common
		// case (`= 0`, `>= 80`) and it needs no formatting.
		lit, f := a.lit, a.f
		if lit == "" {
			lit, f = b.lit, b.f
		}
		if d, ok := decimal.Parse(lit); ok && d.Digits() <= 15 &&
			(f == 0 || (math.Abs(f) >= 0x1p-1022 && !math.IsInf(f, 0))) {
			return 0
		}
	}
	da, _ := decimal.Parse(a.literal())
	db, _ := decimal.Parse(b.literal())
	return decimal.Compare(da, db)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
