package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// What Temporal Web (and `temporal workflow describe` / `metadata`) shows of a saga: a
// static one-line summary and details set when it starts, a summary on every activity and
// on the decision deadline's timer, and current details that the saga rewrites at each step
// (they live in the worker's memory and cost no history event). Everything shown is built
// from validated ids, codes and numbers; free text (item names, a rejection reason) is left
// out, as the UI renders details as Markdown. Text is built with WriteString(Sprintf(...)), not
// Fprintf: workflowcheck holds writing to an io.Writer non-deterministic in workflow code.

// Summary is the static summary of an order's saga: "order 41 · c-1 at r-7 · 20.00 EUR".
// amount is the order's total as the menu prices it; 0 says the menu will price it.
func Summary(in ordersaga.OrderInput, amount int64) string {
	return fmt.Sprintf("order %s · %s at %s · %s", in.OrderID, in.CustomerID, in.RestaurantID, amountText(in, amount))
}

// StaticDetails are the static details of an order's saga, in Markdown: who, where, what,
// how much (amount, as in Summary) and how long the restaurant has.
func StaticDetails(in ordersaga.OrderInput, amount int64) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**Order** %s  \n**Customer** %s  \n**Restaurant** %s  \n**Amount** %s  \n", in.OrderID, in.CustomerID, in.RestaurantID,
		amountText(in, amount)))
	if timeout, err := in.Timeout(); err == nil {
		b.WriteString(fmt.Sprintf("**Decision within** %s  \n", timeout))
	}
	if in.MenuVersion > 0 {
		b.WriteString(fmt.Sprintf("**Menu version** %d  \n", in.MenuVersion))
	}
	b.WriteString("\n| item | quantity | unit price |\n|---|---:|---:|\n")
	for _, it := range in.Items {
		price := "menu"
		if it.UnitPrice > 0 {
			price = ordersaga.FormatMoney(it.UnitPrice, in.Currency)
		}
		b.WriteString(fmt.Sprintf("| %s | %d | %s |\n", it.ID, it.Quantity, price))
	}
	return b.String()
}

func amountText(in ordersaga.OrderInput, amount int64) string {
	if amount > 0 {
		return ordersaga.FormatMoney(amount, in.Currency)
	}
	return "priced by the menu (" + in.Currency + ")"
}

// stepSummary is the one line Temporal Web shows on a forward step's activity.
func (s *saga) stepSummary(step string) string { return StepSummary(s.in, s.state.Amount, step) }

// StepSummary is the one line Temporal Web shows on the activity of step (create-order,
// debit-payment, approve-order or refund-payment) in the saga of order in, whose total is
// amount.
func StepSummary(in ordersaga.OrderInput, amount int64, step string) string {
	money := ordersaga.FormatMoney(amount, in.Currency)
	switch step {
	case "create-order":
		return fmt.Sprintf("create order %s for %s at %s (%d items)", in.OrderID, in.CustomerID, in.RestaurantID, len(in.Items))
	case "debit-payment":
		return fmt.Sprintf("debit %s from %s", money, in.CustomerID)
	case "approve-order":
		return fmt.Sprintf("approve order %s at %s", in.OrderID, in.RestaurantID)
	case "refund-payment":
		return fmt.Sprintf("refund %s to %s", money, in.CustomerID)
	}
	return step + " " + in.OrderID
}

// CloseSummary is the one line Temporal Web shows on the activity that closes an order the
// saga could not complete: cancelled by the customer, or rejected for reason.
func CloseSummary(orderID, reason string, cancelled bool) string {
	if cancelled {
		return fmt.Sprintf("cancel order %s", orderID)
	}
	return fmt.Sprintf("reject order %s: %s", orderID, reason)
}

// withSummary returns ctx with the activity summary set to summary.
func withSummary(ctx workflow.Context, summary string) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = summary
	return workflow.WithActivityOptions(ctx, opts)
}

// show rewrites the saga's current details from its state.
func (s *saga) show(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, s.currentDetails())
}

// currentDetails are the saga's current details, in Markdown: the status, the amount, what
// it waits for (and until when), what is done and what was undone.
func (s *saga) currentDetails() string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** · %s", s.state.Status, ordersaga.FormatMoney(s.state.Amount, s.in.Currency)))
	if s.state.Reason != "" {
		b.WriteString(fmt.Sprintf(" · reason %s", s.state.Reason))
	}
	b.WriteString("  \n")
	switch {
	case s.state.Status == ordersaga.StatusAwaitingDecision && !s.deadline.IsZero():
		b.WriteString(fmt.Sprintf("Waiting for restaurant %s to approve or reject, until %s  \n", s.in.RestaurantID, s.deadline.UTC().Format(time.RFC3339)))
	case s.state.PendingStep != "":
		b.WriteString(fmt.Sprintf("Running %s  \n", s.state.PendingStep))
	}
	if len(s.state.CompletedSteps) > 0 {
		b.WriteString(fmt.Sprintf("Done: %s  \n", strings.Join(s.state.CompletedSteps, ", ")))
	}
	if len(s.state.Compensated) > 0 {
		b.WriteString(fmt.Sprintf("Undone: %s  \n", strings.Join(s.state.Compensated, ", ")))
	}
	if s.state.DecisionHeld {
		b.WriteString("A decision arrived early; it is taken at the decision point  \n")
	}
	return b.String()
}
