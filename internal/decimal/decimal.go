// Package decimal compares JSON number literals exactly.
//
// Catalog values and blueprint constraints are JSON numbers, and pier
// compares them the way CUE and Port do: by the decimal value written,
// never rounded through float64, so 0.30000000000000001 is above 0.3 and
// 9007199254740993 above 9007199254740992. math/big could do the same, but
// big.Rat builds every number it reads and refuses exponents beyond a
// million. A Decimal instead reads the literal in place: parsing and
// comparing allocate nothing, and 1e1000000000 costs no more than 1e1,
// whatever the size of its exponent.
package decimal

import (
	"cmp"
	"strconv"
)

// A Decimal is a parsed number literal. Its value is ±0.d₁d₂…dₙ × 10^E,
// where the significant digits d₁…dₙ are the digits of the literal with
// leading and trailing zeros dropped. The zero value is the number 0.
type Decimal struct {
	intPart, frac string // digits before and after the point, as written
	first, end    int    // significant digits: (intPart+frac)[first:end], none for 0

	// The exponent E is the written exponent (±expDigits) plus the
	// shift of the point, len(intPart)-first. Unless expDigits is too
	// long for an int64 to hold it with room to spare (see big), exp
	// holds E.
	expDigits string // the written exponent's digits without leading zeros
	exp       int64

	neg    bool // a minus sign was written, even if the value is 0
	expNeg bool // the written exponent is negative
	float  bool // written with a point or an exponent
}

// maxExpDigits is the length of the longest written exponent held in
// exp: its value is below 10¹⁸, which leaves room for the point's shift.
const maxExpDigits = 18

// Parse reads a number in JSON syntax. It also accepts what hand-written
// values in Go or YAML may have: a leading '+', leading zeros, and an
// empty integer or fraction part (".5", "5."). Any exponent is accepted.
func Parse(s string) (Decimal, bool) {
	var d Decimal
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
		return Decimal{}, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		d.float = true
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			d.expNeg = s[i] == '-'
			i++
		}
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return Decimal{}, false
		}
		for start < i && s[start] == '0' {
			start++
		}
		d.expDigits = s[start:i]
		d.expNeg = d.expNeg && d.expDigits != ""
	}
	if i != len(s) {
		return Decimal{}, false
	}
	d.end = len(d.intPart) + len(d.frac)
	for d.first < d.end && d.digit(d.first) == '0' {
		d.first++
	}
	for d.end > d.first && d.digit(d.end-1) == '0' {
		d.end--
	}
	if !d.big() {
		var e int64
		for i := 0; i < len(d.expDigits); i++ {
			e = e*10 + int64(d.expDigits[i]-'0')
		}
		if d.expNeg {
			e = -e
		}
		d.exp = e + d.shift()
	}
	return d, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digit returns the i-th digit of intPart+frac.
func (d *Decimal) digit(i int) byte {
	if i < len(d.intPart) {
		return d.intPart[i]
	}
	return d.frac[i-len(d.intPart)]
}

// big reports whether the written exponent is too long for exp, which
// makes its magnitude at least 10¹⁸.
func (d *Decimal) big() bool { return len(d.expDigits) > maxExpDigits }

// shift is what the position of the point adds to the written exponent.
// Its magnitude is at most the length of the literal, which is taken to
// be far below 2⁵², and so far below a big exponent.
func (d *Decimal) shift() int64 { return int64(len(d.intPart) - d.first) }

func (d *Decimal) sign() int {
	switch {
	case d.first == d.end:
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// Digits returns the number of significant digits of d: 3 for 1.25, 12.5
// and 0.0125, 1 for 100, and 0 for 0.
func (d Decimal) Digits() int { return d.end - d.first }

// Float reports whether d was written with a point or an exponent, which
// makes it a float rather than an int in CUE: 1 is not, 1.0 and 1e0 are.
// It is about the notation, not the value.
func (d Decimal) Float() bool { return d.float }

// Compare compares a and b by value and returns -1, 0 or +1. Notation does
// not matter: 1, 1.0 and 10e-1 are equal, and so are 0 and -0.
func Compare(a, b Decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb || sa == 0 {
		return cmp.Compare(sa, sb)
	}
	return sa * cmpMagnitude(&a, &b)
}

// cmpMagnitude compares |a| and |b| for non-zero a and b.
func cmpMagnitude(a, b *Decimal) int {
	if c := cmpExp(a, b); c != 0 {
		return c
	}
	i, j := a.first, b.first
	for ; i < a.end && j < b.end; i, j = i+1, j+1 {
		if x, y := a.digit(i), b.digit(j); x != y {
			return cmp.Compare(x, y)
		}
	}
	// Trailing zeros are not significant digits, so the longer run has
	// a non-zero digit the shorter lacks.
	switch {
	case i < a.end:
		return 1
	case j < b.end:
		return -1
	}
	return 0
}

// cmpExp compares the exponents E of non-zero a and b.
func cmpExp(a, b *Decimal) int {
	if !a.big() && !b.big() {
		return cmp.Compare(a.exp, b.exp)
	}
	// At least one written exponent is 10¹⁸ or more in magnitude, which
	// no shift can make up for: if the written exponents have different
	// signs, that decides.
	sa, sb := a.expSign(), b.expSign()
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	// Ea - Eb = s(|Wa| - |Wb|) + shift(a) - shift(b), s being the sign
	// of both written exponents Wa and Wb.
	diff := int64(sa) * subDigits(a.expDigits, b.expDigits)
	return cmp.Compare(diff+a.shift()-b.shift(), 0)
}

func (d *Decimal) expSign() int {
	switch {
	case d.expDigits == "":
		return 0
	case d.expNeg:
		return -1
	}
	return 1
}

// subDiffMax bounds the differences subDigits computes exactly.
const subDiffMax = 1 << 53

// subDigits returns x-y for natural numbers written in decimal without
// leading zeros. A difference beyond ±2⁵³ is not computed exactly: the
// result is then only of the right sign and beyond ±2⁵³ too.
func subDigits(x, y string) int64 {
	var acc int64
	for k := max(len(x), len(y)); k > 0; k-- {
		// The digits worth 10^(k-1), or 0 left of a number's start.
		var dx, dy int64
		if k <= len(x) {
			dx = int64(x[len(x)-k] - '0')
		}
		if k <= len(y) {
			dy = int64(y[len(y)-k] - '0')
		}
		acc = acc*10 + dx - dy
		// What is left to read is less than 10^(k-1) either way, so
		// x-y is acc·10^(k-1) give or take less than 10^(k-1): beyond
		// ±2⁵³, of the same sign.
		if acc > subDiffMax || acc < -subDiffMax {
			return acc
		}
	}
	return acc
}

// AppendCanonical appends a canonical literal of d to b and returns the
// extended buffer. Equal values, and only they, have equal canonical
// literals: the sign, the significant digits as an integer and, unless it
// is 0, the exponent that scales it, such as -125e3 for -125000 or
// -1.25E5, 3e-2 for 0.030, 7 for 7.0, and 0 for 0 and -0.0. Parsing the
// canonical literal gives back the value of d.
func (d Decimal) AppendCanonical(b []byte) []byte {
	if d.sign() == 0 {
		return append(b, '0')
	}
	if d.neg {
		b = append(b, '-')
	}
	for i := d.first; i < d.end; i++ {
		b = append(b, d.digit(i))
	}
	// The significand is an integer: subtract the number of digits
	// from E.
	n := int64(d.Digits())
	if !d.big() {
		if e := d.exp - n; e != 0 {
			b = strconv.AppendInt(append(b, 'e'), e, 10)
		}
		return b
	}
	// The exponent is the written one, ±expDigits, plus t.
	t := d.shift() - n
	b = append(b, 'e')
	if d.expNeg {
		return appendSum(append(b, '-'), d.expDigits, -t)
	}
	return appendSum(b, d.expDigits, t)
}

// appendSum appends the decimal digits of m+t to b, m being a natural
// number written without leading zeros and t smaller in magnitude.
func appendSum(b []byte, m string, t int64) []byte {
	start := len(b)
	b = append(b, '0') // room for a carry
	b = append(b, m...)
	for i := len(b) - 1; t != 0; i-- {
		v := int64(b[i]-'0') + t%10
		t /= 10
		switch {
		case v < 0:
			v += 10
			t--
		case v > 9:
			v -= 10
			t++
		}
		b[i] = byte('0' + v)
	}
	z := start
	for b[z] == '0' {
		z++
	}
	return append(b[:start], b[z:]...)
}
