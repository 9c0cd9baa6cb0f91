//go:build !linux

package engine

import (
	"context"
	"sync"
)

// startLoops reports false: the event loop needs epoll, so plain http
// runs on the goroutine path here.
func (r *runner) startLoops(context.Context, *sync.WaitGroup) bool { return false }
