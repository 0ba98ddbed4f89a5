package audit

import (
	"context"
	"errors"
	"fmt"
)

// Operation says how a wrapped function's calls are recorded (see Wrap). A
// is the function's argument type (struct{} for a function without one),
// T its result type.
//
// The hooks run in the caller's goroutine. A hook that panics does not
// break the call: the record notes the panic under Details["_audit_hooks"].
type Operation[A, T any] struct {
	Action       Action // required
	ResourceType string // required
	// ResourceID returns the id of the resource acted on, from the
	// argument or the result. result is T's zero value when the function
	// failed or panicked.
	ResourceID func(arg A, result T) string
	// Details returns details to record with the call.
	Details func(arg A, result T) map[string]any
	// Actor, when set, names who acted from the argument or result (a
	// login, say, whose user is known only from its argument); a zero
	// Actor leaves the one in the context.
	Actor func(arg A, result T) Actor
	// Before and After, when set, capture the resource's state before and
	// after the call; the record's Changes are Diff(before, after). If
	// Before fails, the function is not called, the attempt is recorded
	// with status failure (or op.Status of Before's error) and no Changes,
	// and the wrapper returns Before's error: a change whose state cannot
	// be captured is not made. After runs even when the function fails,
	// and Changes are what it reports. With Before set and After nil, the
	// state after is the function's result; when the function fails the
	// record has no Changes (a failed call is not a deletion).
	Before func(ctx context.Context, arg A) (any, error)
	After  func(ctx context.Context, arg A, result T) (any, error)
	// Status classifies the function's error; by default any error is
	// StatusFailure.
	Status func(err error) Status
}

// Wrap returns a function that calls fn and records each call with l: the
// action and resource of op, status success when fn returns a nil error and
// failure (or op.Status(err)) with the error's message when it does not.
// If fn panics, the call is recorded with status error and the panic
// continues, with its original value and stack.
//
// What fail-closed means for a wrapped function: the record is made after
// fn returns, so fn's effects have happened whatever becomes of the
// record. When op.Action is delivered Sync and the record cannot be
// written, the wrapper returns fn's result with an error wrapping
// ErrNotRecorded (joined with fn's own error, if any): the caller learns
// that the operation is unaudited and can undo it, for instance by rolling
// back the transaction fn ran in. To make an operation and its record
// commit together, write the record with Logger.LogTo inside the same
// transaction instead. When the action is delivered Async, a record that
// cannot be queued does not fail the call; the Logger's OnError is
// told.
//
// Wrap returns an error if l or fn is nil, or if op lacks Action or
// ResourceType. A function without an argument takes struct{}:
//
//	rotate, err := audit.Wrap(logger, audit.Operation[struct{}, string]{…},
//		func(ctx context.Context, _ struct{}) (string, error) { return rotateKey(ctx) })
//	…
//	id, err := rotate(ctx, struct{}{})
func Wrap[A, T any](l *Logger, op Operation[A, T], fn func(context.Context, A) (T, error)) (func(context.Context, A) (T, error), error) {
	switch {
	case l == nil:
		return nil, errors.New("audit: Wrap: nil Logger")
	case fn == nil:
		return nil, errors.New("audit: Wrap: nil function")
	case op.Action == "" || op.ResourceType == "":
		return nil, errors.New("audit: Wrap: the Operation needs an Action and a ResourceType")
	}
	return func(ctx context.Context, arg A) (result T, err error) {
		var before any
		if op.Before != nil {
			b, berr := op.Before(ctx, arg)
			if berr != nil {
				err = fmt.Errorf("audit: %s: capturing state before: %w", op.Action, berr)
				ev := op.event(ctx, arg, result, err, nil, false)
				return result, record(ctx, l, op.Action, ev, err)
			}
			before = b
		}
		returned := false
		defer func() {
			if returned {
				return
			}
			p := recover()
			msg := "runtime.Goexit called"
			if p != nil {
				msg = fmt.Sprintf("panic: %v", p)
			}
			var zero T
			ev := op.event(ctx, arg, zero, nil, before, false)
			ev.Status, ev.ErrorMessage = StatusError, msg
			if lerr := l.Log(ctx, ev); lerr != nil {
				l.onError(fmt.Errorf("audit: recording panic in %s: %w", op.Action, lerr))
			}
			if p != nil {
				panic(p) // re-raised from the deferred call: the trace keeps fn's frames
			}
		}()
		result, err = fn(ctx, arg)
		returned = true

		ev := op.event(ctx, arg, result, err, before, true)
		return result, record(ctx, l, op.Action, ev, err)
	}, nil
}

// record logs the record of a wrapped call that returned err, and returns
// the error the wrapper returns: err, joined with an error wrapping
// ErrNotRecorded when a Sync record (or an invalid one) was not written.
func record(ctx context.Context, l *Logger, a Action, ev Event, err error) error {
	lerr := l.Log(ctx, ev)
	if lerr == nil || (l.DeliveryFor(a) != Sync && !errors.Is(lerr, ErrInvalidEvent)) {
		return err // an Async failure was reported to OnError
	}
	nr := fmt.Errorf("%w: %s: %w", ErrNotRecorded, a, lerr)
	if err != nil {
		return errors.Join(err, nr)
	}
	return nr
}

// event builds the record of one call.
func (op *Operation[A, T]) event(ctx context.Context, arg A, result T, err error, before any, after bool) Event {
	ev := Event{Action: op.Action, ResourceType: op.ResourceType, Status: StatusSuccess}
	var hookErrs []string
	hook := func(name string, f func()) {
		defer func() {
			if p := recover(); p != nil {
				hookErrs = append(hookErrs, fmt.Sprintf("%s panicked: %v", name, p))
			}
		}()
		f()
	}
	if op.ResourceID != nil {
		hook("ResourceID", func() { ev.ResourceID = op.ResourceID(arg, result) })
	}
	if op.Actor != nil {
		hook("Actor", func() {
			if a := op.Actor(arg, result); a != (Actor{}) {
				ev.UserID, ev.UserEmail = a.UserID, a.UserEmail
			}
		})
	}
	if op.Details != nil {
		hook("Details", func() {
			if d := op.Details(arg, result); len(d) > 0 {
				ev.Details = make(map[string]any, len(d)+1)
				for k, v := range d {
					ev.Details[k] = v
				}
			}
		})
	}
	// a failed call without After has no state after to compare: record
	// no Changes rather than every field removed
	if after && (op.After != nil || (op.Before != nil && err == nil)) {
		var state any
		if op.After == nil {
			state = result
		}
		if op.After != nil {
			hook("After", func() {
				s, aerr := op.After(ctx, arg, result)
				if aerr != nil {
					hookErrs = append(hookErrs, "After: "+aerr.Error())
					return
				}
				state = s
			})
		}
		if changes, derr := Diff(before, state); derr != nil {
			hookErrs = append(hookErrs, derr.Error())
		} else {
			ev.Changes = changes
		}
	}
	if err != nil {
		ev.Status = StatusFailure
		if op.Status != nil {
			hook("Status", func() { ev.Status = op.Status(err) })
		}
		ev.ErrorMessage = safeErrorString(err)
	}
	if len(hookErrs) > 0 {
		if ev.Details == nil {
			ev.Details = map[string]any{}
		}
		ev.Details["_audit_hooks"] = hookErrs
	}
	return ev
}
