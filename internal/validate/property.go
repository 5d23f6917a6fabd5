package validate

import (
	"fmt"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/node"
)

// Ownership says who may write a property.
type Ownership int

const (
	// Unknown: the blueprint has no such property.
	Unknown Ownership = iota
	// Git: declared in git; only a revision changes it.
	Git
	// Runtime: written through the API only.
	Runtime
	// Computed: pier computes it.
	Computed
)

// Owner reports who owns a property of this blueprint.
func (v *Validator) Owner(name string) Ownership {
	if r, ok := v.props[name]; ok {
		if r.runtime {
			return Runtime
		}
		return Git
	}
	if v.computed[name] != "" {
		return Computed
	}
	return Unknown
}

// CheckProperty validates one property value written through the API
// against the blueprint, with the same rules and messages as a value in
// git. null is accepted: it removes a runtime value.
func (v *Validator) CheckProperty(name string, n *node.Node, prefix string) catalog.Diagnostics {
	c := checker{prefix: prefix}
	r, ok := v.props[name]
	if !ok {
		c.add(n, "properties."+catalog.PathElem(name), catalog.KindProperty, "%s", fmt.Sprintf("blueprint %s has no property %q", v.blueprint, name))
		return c.diags
	}
	if n.Kind != node.Null {
		r.check(&c, n, "properties."+catalog.PathElem(name))
	}
	return c.diags
}
