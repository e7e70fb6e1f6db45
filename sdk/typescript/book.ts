// Books a meeting and answers it through Convene's API, typed by schema.d.ts, which
// `npm run generate` makes from openapi/openapi.json. Plain fetch: no runtime dependency.
import type { components, operations, webhooks } from "./schema";

type Schemas = components["schemas"];
type Body<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;
type Ok<Op extends keyof operations, Status extends number> = operations[Op]["responses"] extends {
  [S in Status]: { content: { "application/json": infer R } };
}
  ? R
  : never;
type Problem = Schemas["Problem"];

async function call<Answer>(
  api: string,
  token: string,
  method: "GET" | "POST" | "PATCH",
  path: string,
  body?: unknown,
): Promise<Answer> {
  const response = await fetch(api + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = (await response.json()) as Problem;
    throw new Error(`${method} ${path}: ${problem.status} ${problem.code}: ${problem.detail}`);
  }
  return (await response.json()) as Answer;
}

/** The organizer books a meeting with a colleague, who declines it with a comment. */
export async function bookAndDecline(
  api: string,
  organizerToken: string,
  invitee: { id: string; token: string },
): Promise<Schemas["Participant"]> {
  const booking: Body<"createFollowUp"> = {
    title: "Budget 2027",
    start_at: "2026-12-07T10:00:00+01:00",
    end_at: "2026-12-07T11:00:00+01:00",
    participants: [{ associate_id: invitee.id }],
  };
  const followUp = await call<Ok<"createFollowUp", 201>>(
    api,
    organizerToken,
    "POST",
    "/v1/follow-ups",
    booking,
  );
  const mine = followUp.participants.find((p) => p.associate_id === invitee.id);
  if (mine === undefined) throw new Error("the invitee is not among the participants");
  const answer: Body<"respondToInvitation"> = { status: "declined", comment: "On leave" };
  return call<Ok<"respondToInvitation", 200>>(
    api,
    invitee.token,
    "POST",
    `/v1/invitations/${mine.id}/response`,
    answer,
  );
}

type Delivered<Type extends keyof webhooks> = webhooks[Type]["post"] extends {
  requestBody: { content: { "application/json": infer P } };
}
  ? P
  : never;

/** What a subscriber's handler reads from a verified `invitation.declined` delivery. */
export function describeDecline(payload: Delivered<"invitation.declined">): string {
  const { data } = payload;
  const comment = data.has_comment ? " with a comment for the organizer" : "";
  return `${data.associate_id} declined (was ${data.previous_status}) at seq ${data.seq}${comment}`;
}
