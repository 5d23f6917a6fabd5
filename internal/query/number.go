package query

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
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
		if d, ok := parseDecimal(lit); ok && d.digits() <= 15 &&
			(f == 0 || (math.Abs(f) >= 0x1p-1022 && !math.IsInf(f, 0))) {
			return 0
		}
	}
	da, _ := parseDecimal(a.literal())
	db, _ := parseDecimal(b.literal())
	return cmpDecimal(da, db)
}

// decimal is a decimal literal read in place: its value is
// ±0.d₁d₂…dₙ × 10^exp where the significant digits are the digits of
// intPart+frac from index first to last. Zero has first > last. Exponents
// are clamped to ±2⁵⁰, far beyond any number a catalog holds.
type decimal struct {
	neg         bool
	intPart     string
	frac        string
	first, last int
	exp         int64
}

const maxExp = 1 << 50

func (d decimal) zero() bool  { return d.first > d.last }
func (d decimal) digits() int { return d.last - d.first + 1 }

func (d decimal) digit(i int) byte {
	if i < len(d.intPart) {
		return d.intPart[i]
	}
	return d.frac[i-len(d.intPart)]
}

// parseDecimal reads a number in JSON syntax; a leading '+' and a missing
// integer or fraction part are tolerated, since hand-written values in Go
// or YAML may have them.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	d.intPart = s[start:i]
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		d.frac = s[start:i]
	}
	if d.intPart == "" && d.frac == "" {
		return d, false
	}
	var e int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return d, false
		}
		for ; i < len(s) && isDigit(s[i]); i++ {
			if e < maxExp {
				e = e*10 + int64(s[i]-'0')
			}
		}
		e = min(e, maxExp)
		if eneg {
			e = -e
		}
	}
	if i != len(s) {
		return d, false
	}
	n := len(d.intPart) + len(d.frac)
	d.first, d.last = 0, n-1
	for d.first < n && d.digit(d.first) == '0' {
		d.first++
	}
	for d.last >= d.first && d.digit(d.last) == '0' {
		d.last--
	}
	d.exp = int64(len(d.intPart)-d.first) + e
	return d, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// cmpDecimal compares two parsed decimals exactly.
func cmpDecimal(a, b decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if sa == 0 {
		return 0
	}
	return sa * cmpMagnitude(a, b)
}

func (d decimal) sign() int {
	switch {
	case d.zero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmpMagnitude compares |a| and |b| for non-zero a and b.
func cmpMagnitude(a, b decimal) int {
	if a.exp != b.exp {
		if a.exp < b.exp {
			return -1
		}
		return 1
	}
	na, nb := a.digits(), b.digits()
	for i := 0; i < na && i < nb; i++ {
		ca, cb := a.digit(a.first+i), b.digit(b.first+i)
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	// Trailing zeros are not significant digits, so the longer one has
	// a non-zero digit the shorter lacks.
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return 0
}
