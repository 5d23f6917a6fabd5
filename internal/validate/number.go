package validate

import (
	"math/big"
	"strconv"
	"strings"
)

// decimal is a JSON number literal held so that it compares exactly
// without being materialised: its value is 0.d₁d₂…dₙ × 10^exp, where the
// significant digits d₁…dₙ are read from the literal in place (intPart
// then frac, skipping leading zeros and ignoring trailing ones). Zero has
// no significant digits. A literal such as 1e1000000000 costs no more than
// 1e1; big.Rat would have to build the number, and gives up (reports a
// parse failure) beyond an exponent of a million.
type decimal struct {
	neg           bool
	intPart, frac string // digits before and after the point
	first, last   int    // significant digits: indices into intPart+frac
	exp           int64  // valid when bigExp is nil
	bigExp        *big.Int
	float         bool // written with a point or an exponent (CUE's float)
}

func (d *decimal) zero() bool { return d.first > d.last }

// digit returns the i-th digit of intPart+frac.
func (d *decimal) digit(i int) byte {
	if i < len(d.intPart) {
		return d.intPart[i]
	}
	return d.frac[i-len(d.intPart)]
}

// parseDecimal reads a number in JSON syntax (a leading '+' and a missing
// integer part are tolerated).
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
		d.float = true
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
		d.float = true
		i++
		es := s[i:]
		if es == "" {
			return d, false
		}
		for j := 0; j < len(es); j++ {
			if !isDigit(es[j]) && !(j == 0 && (es[j] == '-' || es[j] == '+') && len(es) > 1) {
				return d, false
			}
		}
		var err error
		if e, err = strconv.ParseInt(es, 10, 64); err != nil || e > 1<<60 || e < -(1<<60) {
			d.bigExp, _ = new(big.Int).SetString(strings.TrimPrefix(es, "+"), 10)
		}
		i = len(s)
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
	// 0.d₁… × 10^exp: the point sits len(intPart)-first places after
	// the first significant digit's left edge.
	shift := int64(len(d.intPart) - d.first)
	if d.bigExp != nil {
		d.bigExp.Add(d.bigExp, big.NewInt(shift))
	} else {
		d.exp = e + shift
	}
	return d, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// cmpDecimal compares two numbers by value: -1, 0 or +1.
func cmpDecimal(a, b *decimal) int {
	az, bz := a.zero(), b.zero()
	switch {
	case az && bz:
		return 0
	case az:
		if b.neg {
			return 1
		}
		return -1
	case bz:
		if a.neg {
			return -1
		}
		return 1
	case a.neg != b.neg:
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmpMagnitude(a, b)
	if a.neg {
		return -c
	}
	return c
}

func cmpMagnitude(a, b *decimal) int {
	if c := cmpExp(a, b); c != 0 {
		return c
	}
	i, j := a.first, b.first
	for ; i <= a.last && j <= b.last; i, j = i+1, j+1 {
		if x, y := a.digit(i), b.digit(j); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case i <= a.last:
		return 1 // a has more significant digits
	case j <= b.last:
		return -1
	}
	return 0
}

func cmpExp(a, b *decimal) int {
	if a.bigExp == nil && b.bigExp == nil {
		switch {
		case a.exp < b.exp:
			return -1
		case a.exp > b.exp:
			return 1
		}
		return 0
	}
	return a.expInt().Cmp(b.expInt())
}

func (d *decimal) expInt() *big.Int {
	if d.bigExp != nil {
		return d.bigExp
	}
	return big.NewInt(d.exp)
}

// canonical renders the value in a form that is equal for equal values:
// sign, significant digits and exponent, such as "-125e3" or "0".
func (d *decimal) canonical() string {
	if d.zero() {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	for i := d.first; i <= d.last; i++ {
		b.WriteByte(d.digit(i))
	}
	b.WriteByte('e')
	if d.bigExp != nil {
		b.WriteString(d.bigExp.String())
	} else {
		b.WriteString(strconv.FormatInt(d.exp, 10))
	}
	return b.String()
}
