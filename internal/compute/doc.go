// Package compute evaluates Port's computed properties: mirror,
// calculation (jq), inline formula and aggregation properties.
//
// Values are computed at reconcile time, not on read: a read serves what
// reconcile stored, so it never runs jq or walks relations, and a bad
// expression surfaces once, as a reconcile error naming the entity and
// the property, rather than on every request.
//
// The package is shaped around that use. Compile turns the blueprints'
// declarations into a Plan once per set of blueprints: jq is parsed and
// compiled once, mirror paths and aggregation targets are resolved
// against the blueprints, and the properties are put in one dependency
// order across all blueprints, so that a cycle is a compile error
// ("service.a -> service.b -> service.a") instead of a loop at run time.
// Plan.Bind indexes one catalog revision's relations in reverse once;
// the resulting Snapshot answers Evaluate (everything), Affected (which
// entities a change may touch) and EvaluateOnly (just those), the last
// two at a cost that follows the change rather than the catalog.
//
// Evaluation is on demand with memoisation: asking for a value computes
// what it reads first. The plan's order has no cycles, so this ends, and
// it lets EvaluateOnly compute a dependency it was not given nor handed
// in a previous Result.
//
// Semantics:
//
//   - Dependencies are found from the declarations. A jq calculation
//     depends on the computed properties it names as .properties.NAME
//     (or ["NAME"]); one that can see properties without naming them
//     (.properties alone, .., to_entries, getpath, ...) depends on every
//     other computed property of its blueprint. It sees, under
//     .properties, the declared properties and exactly the computed
//     properties it depends on, so its result never depends on the
//     order of evaluation. A formula depends on the identifiers it uses,
//     a mirror on the property it reads at the end of its path, an
//     aggregation on the target's property it aggregates and the
//     properties its query reads.
//   - The jq input is the entity as Port exposes it: identifier, title,
//     icon, blueprint, team, properties, relations. Its first output is
//     the value (none is null); the value must be null or of the declared
//     type. Each run is bounded by Options.Timeout through its context
//     (gojq has no step limit) and guarded against panics.
//   - Formulas ({type: "formula"}) are evaluated by a small parser, not
//     translated to jq: numbers, property names, + - * / ( ) and ||.
//     Arithmetic on null or a missing property is null; division by zero
//     or null is null; a || b is a unless a is null, missing or zero.
//     A property that is not a number is an error. {type: "jq"} is jq.
//   - A mirror path is relation[.relation...].leaf, the leaf a property,
//     a computed property, a relation, $identifier, $title or
//     $blueprint of the entity reached. A missing relation or entity
//     gives null; if any hop is a many relation the value is the array
//     of the non-null leaves (possibly empty).
//   - An aggregation ranges over the target's entities with a relation
//     to the aggregating entity (a team counts its services); if the
//     target has no relation to the blueprint, over the target entities
//     the aggregating entity points at. Entities failing the query are
//     left out, and so are null or missing values. Over an empty set
//     count and sum are 0, average, min, max and median null. Results
//     are json.Number, computed in float64.
//   - Errors do not stop evaluation. A failed property is absent from
//     the Result and reads as null to the properties depending on it.
package compute
