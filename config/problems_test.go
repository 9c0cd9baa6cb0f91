package config

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestProblems(t *testing.T) {
	a, b, c := errors.New("a: bad"), errors.New("b: bad"), errors.New("c: bad")
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"one", a, []string{"a: bad"}},
		{"joined", errors.Join(a, b), []string{"a: bad", "b: bad"}},
		{"nested", errors.Join(a, errors.Join(b, c)), []string{"a: bad", "b: bad", "c: bad"}},
		{"wrapped join", fmt.Errorf("load x.yml: %w", errors.Join(a, b)), []string{"a: bad", "b: bad"}},
		{"wrapped one", fmt.Errorf("load x.yml: %w", a), []string{"load x.yml: a: bad"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Problems(tc.err); !slices.Equal(got, tc.want) {
				t.Errorf("Problems = %q, want %q", got, tc.want)
			}
		})
	}
}
