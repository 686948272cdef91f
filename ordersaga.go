// Package ordersaga holds the domain words shared by every other package of the order saga
// service: the application error type and its codes, and the event shapes that the event
// store records and the event bus carries. It imports no infrastructure.
package ordersaga

//go:generate go tool -modfile=tools/go.mod buf generate
