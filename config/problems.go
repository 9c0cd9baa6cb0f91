package config

import "errors"

// Problems flattens the errors.Join trees of Load and Validate into one
// message per problem, in order, as `benchd config check` lists them.
func Problems(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	var w interface{ Unwrap() error }
	if errors.As(err, &w) {
		if inner := w.Unwrap(); inner != nil {
			if _, ok := inner.(interface{ Unwrap() []error }); ok {
				return Problems(inner)
			}
		}
	}
	return []string{err.Error()}
}
