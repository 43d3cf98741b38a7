import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { defineRoute, ok, RouteDefinition } from '../../http/route';
import { getBilling, openPortal, startCheckout } from './billing.service';
import { handleStripeWebhook } from './stripe-webhook.service';

const billingSchema = Joi.object({
  plan: Joi.string().required().description('The plan whose limits apply now (the free plan once a trial or subscription has lapsed)'),
  status: Joi.string().valid('trialing', 'active', 'past_due', 'trial_expired', 'canceled').required(),
  trialEndsAt: Joi.string().isoDate().allow(null).required(),
  currentPeriodEnd: Joi.string().isoDate().allow(null).required(),
  cancelAtPeriodEnd: Joi.boolean().required(),
  paymentMethod: Joi.object({ brand: Joi.string().required(), last4: Joi.string().required() }).allow(null).required(),
});

const redirectSchema = Joi.object({ url: Joi.string().uri().required().description("Stripe's page to send the user to") });

const checkoutBody = Joi.object<{ plan: string }>({
  plan: Joi.string().valid('pro', 'enterprise').required().description('The paid plan to subscribe to'),
}).required();

/**
 * The organization's plan and subscription, and the Stripe side of it: Checkout to subscribe, the
 * customer portal to change or cancel, and Stripe's webhook. Without STRIPE_SECRET_KEY and
 * STRIPE_WEBHOOK_SECRET the three Stripe routes answer 404 BILLING_DISABLED; the state stays readable.
 */
export function billingRoutes(deps: AppDeps): RouteDefinition[] {
  const tags = ['Billing'];
  return [
    defineRoute({
      method: 'get',
      path: '/organization/billing',
      permission: 'billing:manage',
      summary: "The organization's plan, billing status, trial and period ends, and card on file",
      tags,
      response: { status: 200, description: 'The billing state', schema: billingSchema },
      handler: async () => ok(await getBilling()),
    }),
    defineRoute({
      method: 'post',
      path: '/organization/billing/checkout',
      permission: 'billing:manage',
      usersOnly: true,
      auditResource: 'tenant',
      summary: 'Opens a Stripe Checkout Session for a paid plan; the subscription applies when Stripe confirms it (webhook)',
      description:
        '409 when a subscription is already active or past due (use the portal); 503 SERVICE_UNAVAILABLE when Stripe cannot be reached; 404 BILLING_DISABLED without Stripe.',
      tags,
      schema: { body: checkoutBody },
      response: { status: 200, description: 'Where to send the user to pay', schema: redirectSchema, errors: [404, 409, 503] },
      handler: async (input) => ok(await startCheckout(deps.config, input.body.plan)),
    }),
    defineRoute({
      method: 'post',
      path: '/organization/billing/portal',
      permission: 'billing:manage',
      usersOnly: true,
      auditResource: 'tenant',
      summary: "Opens Stripe's customer portal: card, invoices, plan changes, cancellation",
      description: '503 SERVICE_UNAVAILABLE when Stripe cannot be reached; 404 BILLING_DISABLED without Stripe.',
      tags,
      response: { status: 200, description: 'Where to send the user', schema: redirectSchema, errors: [404, 503] },
      handler: async () => ok(await openPortal(deps.config)),
    }),
    defineRoute({
      method: 'post',
      path: '/billing/stripe/webhook',
      permission: 'public',
      rawBody: true,
      summary: "Stripe's events (subscriptions, invoices, Checkout): signature checked over the raw body, each event id applied once",
      description:
        'Only Stripe calls this. 400 when the Stripe-Signature header is missing, forged or stale; a replayed event answers 200 with `duplicate: true` and changes nothing; 503 while Stripe cannot be reached (Stripe retries).',
      tags,
      response: {
        status: 200,
        description: 'Received',
        schema: Joi.object({ received: Joi.boolean().valid(true).required(), duplicate: Joi.boolean().required() }),
        errors: [400, 404, 503],
      },
      handler: async (input) => {
        const signature = input.headers['stripe-signature'];
        return ok(await handleStripeWebhook(deps, input.rawBody ?? Buffer.alloc(0), typeof signature === 'string' ? signature : undefined, input.requestId));
      },
    }),
  ];
}
