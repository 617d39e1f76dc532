import { viaHasPseudonym } from '../../http/via.js';
import type { Step } from '../../exchange/step.js';

/** A request whose Via already names this gateway has come round: 508. */
export function detectLoop(pseudonym: string): Step {
  return (exchange) => {
    if (!viaHasPseudonym(exchange.req.headers.via, pseudonym)) return undefined;
    exchange.loop = true;
    return {
      status: 508,
      error: 'loop_detected',
      detail: `The request already passed through ${pseudonym}; forwarding it again would loop.`,
      suggestedAction: 'Check the routes: an origin URL points back at this gateway.',
    };
  };
}
