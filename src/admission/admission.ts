import type { Problem } from '../http/problem.js';
import { isRefusal, type Admission, type Constraint } from '../exchange/constraint.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Step } from '../exchange/step.js';

type Outcome = Problem | undefined | Promise<Problem | undefined>;

/**
 * Admission as a step of the request's way: the constraints in order, the
 * first refusal the answer. Each admitting constraint's hold goes onto the
 * exchange, which settles it when it ends (Exchange.end), whether or not a
 * later constraint refuses. A constraint that answers later makes the step
 * wait; one that answers at once costs no promise.
 */
export function admission(constraints: readonly Constraint[]): Step {
  const from = (exchange: Exchange, first: number): Outcome => {
    for (let i = first; i < constraints.length; i++) {
      const constraint = constraints[i]!;
      const said = constraint.admit(exchange);
      if (said instanceof Promise) return said.then((later) => take(exchange, constraint, later) ?? from(exchange, i + 1));
      const refusal = take(exchange, constraint, said);
      if (refusal) return refusal;
    }
    return undefined;
  };
  return (exchange) => from(exchange, 0);
}

/** A refusal to answer with, or undefined once a hold is on the exchange. */
function take(exchange: Exchange, constraint: Constraint, said: Admission): Problem | undefined {
  if (said === undefined) return undefined;
  if (isRefusal(said)) {
    exchange.refusal = { constraint: constraint.name, error: said.error };
    return said;
  }
  exchange.hold(said);
  return undefined;
}
