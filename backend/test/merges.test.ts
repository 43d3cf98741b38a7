import { randomUUID } from 'node:crypto';
import { crmWorld, inTenant, storedRow } from './support/crm-fixtures';

/**
 * Duplicates and merge: GET /{leads|contacts|accounts}/:id/duplicates, POST /{resource}/:id/merge,
 * POST /merges/:id/undo and `?onDuplicate=reject` on create.
 */
describe('duplicates and merge', () => {
  const world = crmWorld();
  const api = () => world.api();
  const a = () => world.a.users;
  /** A word no other test's record holds, so candidates are only this test's. */
  const unique = () => randomUUID().slice(0, 8);

  const create = async (resource: string, body: Record<string, unknown>, auth = a().admin.auth) => {
    const res = await api().post(`/api/v1/${resource}`).set(auth).send(body);
    expect(res.status).toBe(201);
    return res.body.data as Record<string, unknown> & { id: string };
  };
  const duplicatesOf = async (resource: string, id: string, auth = a().admin.auth) => {
    const res = await api().get(`/api/v1/${resource}/${id}/duplicates`).set(auth);
    expect(res.status).toBe(200);
    return res.body.data as Array<{ id: string; score: number; reasons: Array<{ reason: string; value: string; similarity?: number }> }>;
  };

  describe('GET /:resource/:id/duplicates', () => {
    it('when leads share a normalized email, an E.164 phone, a company domain or a similar name, then each is listed with its reasons and a score ordered by evidence, and unrelated ones are not', async () => {
      const word = unique();
      const domain = `dup${word}.example.org`;
      const probe = await create('leads', { firstName: 'Johnathan', lastName: `Smithers${word}`, email: `john.smithers@${domain}`, phone: '+49 30 1234567' });
      const everything = await create('leads', { firstName: 'Jonathan', lastName: `Smithers${word}`, email: `John.Smithers+crm@${domain.toUpperCase()}`, phone: '0049 (30) 123-4567' });
      const emailOnly = await create('leads', { firstName: 'Someone', lastName: 'Else', email: ` john.smithers@${domain}` });
      const phoneOnly = await create('leads', { firstName: 'Other', lastName: 'Person', phone: '+49301234567' });
      const nameOnly = await create('leads', { firstName: 'Johnathan', lastName: `Smithers${word}` });
      const colleague = await create('leads', { firstName: 'Alice', lastName: `Kowalski${word}`, email: `alice@${domain}` });
      const stranger = await create('leads', { firstName: 'Zed', lastName: `Quimby${word}`, email: `zed@other${word}.example.net`, phone: '+44 20 7946 0958' });

      const found = await duplicatesOf('leads', probe.id);
      const byId = new Map(found.map((candidate) => [candidate.id, candidate]));
      expect(byId.has(probe.id)).toBe(false);
      expect(byId.has(stranger.id)).toBe(false);
      // A shared company domain alone (0.3) is below the listing threshold.
      expect(byId.has(colleague.id)).toBe(false);

      const reasonsOf = (id: string) => byId.get(id)!.reasons.map((reason) => reason.reason).sort();
      expect(reasonsOf(everything.id)).toEqual(['domain', 'email', 'name', 'phone']);
      expect(byId.get(everything.id)!.reasons).toEqual(
        expect.arrayContaining([
          { reason: 'email', value: `john.smithers@${domain}` },
          { reason: 'phone', value: '+49301234567' },
          { reason: 'domain', value: domain },
        ]),
      );
      expect(byId.get(everything.id)!.score).toBeGreaterThanOrEqual(0.99);
      expect(reasonsOf(emailOnly.id)).toEqual(['domain', 'email']);
      expect(byId.get(emailOnly.id)!.score).toBe(0.93);
      expect(reasonsOf(phoneOnly.id)).toEqual(['phone']);
      expect(byId.get(phoneOnly.id)!.score).toBe(0.8);
      expect(reasonsOf(nameOnly.id)).toEqual(['name']);
      expect(byId.get(nameOnly.id)!.reasons[0]).toEqual({ reason: 'name', value: `johnathan smithers${word}`, similarity: 1 });
      expect(byId.get(nameOnly.id)!.score).toBe(0.7);
      expect(found.map((candidate) => candidate.id)).toEqual([everything.id, emailOnly.id, phoneOnly.id, nameOnly.id]);
    });

    it('when accounts share a domain or a similar name, then they are listed; a name similarity below 0.5 is no reason', async () => {
      const word = unique();
      const probe = await create('accounts', { name: `Globex${word} Corporation`, domain: `globex${word}.com`, phone: '+1 415 555 2671' });
      const sameDomain = await create('accounts', { name: 'Completely Different', domain: `GLOBEX${word}.com` });
      const similar = await create('accounts', { name: `Globex${word} Corp` });
      const far = await create('accounts', { name: `Initech${word}` });
      const found = await duplicatesOf('accounts', probe.id);
      const ids = found.map((candidate) => candidate.id);
      expect(ids).toContain(sameDomain.id);
      expect(found.find((candidate) => candidate.id === sameDomain.id)!.reasons).toEqual([{ reason: 'domain', value: `globex${word}.com` }]);
      expect(found.find((candidate) => candidate.id === sameDomain.id)!.score).toBe(0.8);
      const byName = found.find((candidate) => candidate.id === similar.id)!;
      expect(byName.reasons[0]!.reason).toBe('name');
      expect(byName.reasons[0]!.similarity).toBeGreaterThanOrEqual(0.5);
      expect(ids).not.toContain(far.id);
    });

    it('when a sales user asks, then only candidates owned by them or their team are listed; a manager sees all', async () => {
      const email = `scoped-${unique()}@scope.example.org`;
      const own = await create('contacts', { lastName: 'Own', email }, a().sales.auth);
      const teammates = await create('contacts', { lastName: 'Teammate', email }, a().teammate.auth);
      const outsiders = await create('contacts', { lastName: 'Outsider', email }, a().outsider.auth);
      const asSales = (await duplicatesOf('contacts', own.id, a().sales.auth)).map((candidate) => candidate.id);
      expect(asSales).toEqual([teammates.id]);
      const asManager = (await duplicatesOf('contacts', own.id, a().manager.auth)).map((candidate) => candidate.id).sort();
      expect(asManager).toEqual([teammates.id, outsiders.id].sort());
    });

    it('when the caller lacks the read permission, then 403; no token, 401; an unknown or foreign id, 404; a bad id, 400', async () => {
      const lead = await create('leads', { lastName: `Perm${unique()}` });
      expect((await api().get(`/api/v1/leads/${lead.id}/duplicates`).set(a().support.auth)).status).toBe(403);
      expect((await api().get(`/api/v1/leads/${lead.id}/duplicates`)).status).toBe(401);
      expect((await api().get(`/api/v1/leads/${lead.id}/duplicates`).set(world.b.users.admin.auth)).status).toBe(404);
      expect((await api().get(`/api/v1/leads/${randomUUID()}/duplicates`).set(a().admin.auth)).status).toBe(404);
      expect((await api().get('/api/v1/leads/not-an-id/duplicates').set(a().admin.auth)).status).toBe(400);
    });
  });

  describe('POST /:resource?onDuplicate=reject', () => {
    it('when the new record looks like an existing one, then 409 DUPLICATE_FOUND names the candidate and nothing is stored; without the flag it is created', async () => {
      const email = `reject-${unique()}@reject.example.org`;
      const existing = await create('contacts', { firstName: 'Rita', lastName: 'Reject', email });
      const refused = await api().post('/api/v1/contacts?onDuplicate=reject').set(a().admin.auth).send({ lastName: 'Rejected Copy', email: email.toUpperCase() });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('DUPLICATE_FOUND');
      expect(refused.body.error.details).toEqual([{ field: 'duplicateOf', message: `${existing.id} score 0.93 (email, domain)` }]);
      const listed = await api().get(`/api/v1/contacts?email=${encodeURIComponent(email)}`).set(a().admin.auth);
      expect(listed.body.data.map((row: { id: string }) => row.id)).toEqual([existing.id]);

      const fresh = await api().post('/api/v1/contacts?onDuplicate=reject').set(a().admin.auth).send({ lastName: 'Fresh', email: `fresh-${unique()}@elsewhere.example.org` });
      expect(fresh.status).toBe(201);
      expect((await api().post('/api/v1/contacts').set(a().admin.auth).send({ lastName: 'Copy', email })).status).toBe(201);
      expect((await api().post('/api/v1/contacts?onDuplicate=maybe').set(a().admin.auth).send({ lastName: 'Copy' })).status).toBe(400);
    });

    it("when another tenant holds the same email, then the create is not refused (candidates are the tenant's own)", async () => {
      const email = `cross-${unique()}@cross.example.org`;
      await create('leads', { lastName: 'Theirs', email }, world.b.users.admin.auth);
      expect((await api().post('/api/v1/leads?onDuplicate=reject').set(a().admin.auth).send({ lastName: 'Mine', email })).status).toBe(201);
    });
  });

  describe('POST /:resource/:id/merge and POST /merges/:id/undo', () => {
    it('when two contacts merge into an account-linked survivor, then activities, tasks, deals, tickets and converted leads move, the duplicate is soft-deleted with mergedInto, blank fields are filled, and undo restores every record and link', async () => {
      const word = unique();
      const account = await create('accounts', { name: `Merge${word} Ltd` });
      const survivor = await create('contacts', { firstName: 'Mara', lastName: `Merge${word}`, email: `mara@m${word}.example.org` });
      const duplicate = await create('contacts', { firstName: 'Mara', lastName: `Merge${word}`, phone: '+49 30 7654321', title: 'Buyer', accountId: account.id });
      const second = await create('contacts', { firstName: 'M.', lastName: `Merge${word}`, title: 'Head of Buying' });
      const activity = await create('activities', { type: 'call', subject: 'Intro call', relatedType: 'contact', relatedId: duplicate.id });
      const task = await create('tasks', { title: 'Follow up', relatedType: 'contact', relatedId: second.id });
      const deal = await create('deals', { name: `Deal ${word}`, contactId: duplicate.id });
      const ticket = await create('tickets', { subject: 'Broken', contactId: duplicate.id });
      const lead = await create('leads', { lastName: `Lead${word}` });
      const converted = await api().post(`/api/v1/leads/${lead.id}/convert`).set(a().admin.auth).send({ contactId: second.id, account: { name: `Conv${word}` } });
      expect(converted.status).toBe(200);
      const untouched = await create('activities', { type: 'note', subject: 'Own note', relatedType: 'contact', relatedId: survivor.id });

      const merged = await api()
        .post(`/api/v1/contacts/${survivor.id}/merge`)
        .set(a().admin.auth)
        .send({ duplicateIds: [duplicate.id, second.id], prefer: { title: second.id } });
      expect(merged.status).toBe(200);
      const { mergeId } = merged.body.data;
      expect(merged.body.data.survivor).toMatchObject({ id: survivor.id, email: survivor.email, phone: '+49 30 7654321', title: 'Head of Buying', accountId: account.id });
      expect(merged.body.data.moved).toEqual({ activities: 1, tasks: 1, deals: 1, tickets: 1, leads: 1 });

      const read = (resource: string, id: string, query = '') => api().get(`/api/v1/${resource}/${id}${query}`).set(a().admin.auth);
      expect((await read('activities', activity.id)).body.data.relatedId).toBe(survivor.id);
      expect((await read('activities', untouched.id)).body.data.relatedId).toBe(survivor.id);
      expect((await read('tasks', task.id)).body.data.relatedId).toBe(survivor.id);
      expect((await read('deals', deal.id)).body.data.contactId).toBe(survivor.id);
      expect((await read('tickets', ticket.id)).body.data.contactId).toBe(survivor.id);
      expect((await read('leads', lead.id)).body.data.convertedContactId).toBe(survivor.id);
      expect((await read('contacts', duplicate.id)).status).toBe(404);
      const gone = await read('contacts', duplicate.id, '?includeDeleted=true');
      expect(gone.body.data).toMatchObject({ mergedInto: survivor.id });
      expect(gone.body.data.deletedAt).not.toBeNull();
      // The survivor's timeline shows the moved activity.
      const timeline = await api().get(`/api/v1/contacts/${survivor.id}/timeline`).set(a().admin.auth);
      expect(timeline.body.data.filter((entry: { kind: string }) => entry.kind === 'activity').map((entry: { activity: { id: string } }) => entry.activity.id).sort()).toEqual([activity.id, untouched.id].sort());
      // ... and the audit history of the records merged into it.
      const audits = timeline.body.data.filter((entry: { kind: string }) => entry.kind === 'audit').map((entry: { audit: { action: string } }) => entry.audit.action);
      expect(audits).toEqual(expect.arrayContaining(['contact.merge', 'contact.delete', 'contact.create']));
      expect(audits.filter((action: string) => action === 'contact.create')).toHaveLength(3);

      const undone = await api().post(`/api/v1/merges/${mergeId}/undo`).set(a().admin.auth);
      expect(undone.status).toBe(200);
      expect(undone.body.data).toEqual({ mergeId, survivorId: survivor.id, restoredIds: expect.arrayContaining([duplicate.id, second.id]), restoredLinks: 5 });
      expect((await read('contacts', duplicate.id)).body.data).toMatchObject({ mergedInto: null, deletedAt: null, phone: '+49 30 7654321', title: 'Buyer', accountId: account.id });
      expect((await read('contacts', second.id)).body.data).toMatchObject({ mergedInto: null, deletedAt: null });
      const restored = (await read('contacts', survivor.id)).body.data;
      expect(restored).toMatchObject({ phone: null, title: null, accountId: null, email: survivor.email });
      expect((await read('activities', activity.id)).body.data.relatedId).toBe(duplicate.id);
      expect((await read('activities', untouched.id)).body.data.relatedId).toBe(survivor.id);
      expect((await read('tasks', task.id)).body.data.relatedId).toBe(second.id);
      expect((await read('deals', deal.id)).body.data.contactId).toBe(duplicate.id);
      expect((await read('tickets', ticket.id)).body.data.contactId).toBe(duplicate.id);
      expect((await read('leads', lead.id)).body.data.convertedContactId).toBe(second.id);

      const again = await api().post(`/api/v1/merges/${mergeId}/undo`).set(a().admin.auth);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('CONFLICT');
      const stored = await inTenant(world.owner, world.a.tenantId, async (trx) => trx('merges').where({ id: mergeId }).first());
      expect(stored.undone_at).not.toBeNull();
    });

    it('when accounts merge, then deals, contacts and activities move (each with its update event), `account.merged` reaches the change feed, and the merge and its undo are audited', async () => {
      const word = unique();
      const survivor = await create('accounts', { name: `Acme${word}`, domain: `acme${word}.com` });
      const duplicate = await create('accounts', { name: `ACME${word} Inc`, domain: `acme${word}.com`, industry: 'Tools' });
      const contact = await create('contacts', { lastName: `Staff${word}`, accountId: duplicate.id });
      const deal = await create('deals', { name: `Big${word}`, accountId: duplicate.id });
      const note = await create('activities', { type: 'note', subject: 'Met', relatedType: 'account', relatedId: duplicate.id });
      const before = (await api().get('/api/v1/events?limit=1000&types=account.*').set(a().admin.auth)).body.pagination.nextCursor;

      const merged = await api().post(`/api/v1/accounts/${survivor.id}/merge`).set(a().admin.auth).send({ duplicateIds: [duplicate.id] });
      expect(merged.status).toBe(200);
      expect(merged.body.data.moved).toEqual({ activities: 1, deals: 1, contacts: 1 });
      expect(merged.body.data.survivor.industry).toBe('Tools');
      expect((await api().get(`/api/v1/contacts/${contact.id}`).set(a().admin.auth)).body.data.accountId).toBe(survivor.id);
      expect((await api().get(`/api/v1/deals/${deal.id}`).set(a().admin.auth)).body.data.accountId).toBe(survivor.id);
      expect((await api().get(`/api/v1/activities/${note.id}`).set(a().admin.auth)).body.data.relatedId).toBe(survivor.id);

      const feed = await api().get(`/api/v1/events?limit=1000&types=account.*${before ? `&after=${before}` : ''}`).set(a().admin.auth);
      const events = feed.body.data.filter((event: { resourceId: string }) => [survivor.id, duplicate.id].includes(event.resourceId));
      expect(events.map((event: { type: string; resourceId: string }) => [event.type, event.resourceId])).toEqual([
        ['account.deleted', duplicate.id],
        ['account.merged', survivor.id],
      ]);
      expect(events[0].data.object.mergedInto).toBe(survivor.id);
      expect(events[1].data.previousAttributes).toEqual({ industry: null });
      // Each moved row has its own update event, as a PATCH of it would.
      const linked = await api().get(`/api/v1/events?limit=1000&types=deal.*,contact.*,activity.*${before ? `&after=${before}` : ''}`).set(a().admin.auth);
      const moves = linked.body.data
        .filter((event: { type: string; resourceId: string }) => event.type.endsWith('.updated') && [deal.id, contact.id, note.id].includes(event.resourceId))
        .map((event: { type: string; resourceId: string; data: { previousAttributes?: unknown } }) => [event.type, event.resourceId, event.data.previousAttributes]);
      expect(moves).toEqual([
        ['activity.updated', note.id, { relatedId: duplicate.id }],
        ['deal.updated', deal.id, { accountId: duplicate.id }],
        ['contact.updated', contact.id, { accountId: duplicate.id }],
      ]);

      const undone = await api().post(`/api/v1/merges/${merged.body.data.mergeId}/undo`).set(a().admin.auth);
      expect(undone.status).toBe(200);
      expect((await api().get(`/api/v1/contacts/${contact.id}`).set(a().admin.auth)).body.data.accountId).toBe(duplicate.id);
      const audit = await api().get('/api/v1/audit-logs?limit=100').set(a().admin.auth);
      const actions = audit.body.data.map((entry: { action: string; resourceId: string }) => `${entry.action} ${entry.resourceId}`);
      expect(actions).toEqual(expect.arrayContaining([`account.merge ${survivor.id}`, `account.merge_undo ${merged.body.data.mergeId}`, `account.update ${duplicate.id}`]));
      expect((await storedRow(world.owner, world.a.tenantId, 'accounts', survivor.id))!.industry).toBeNull();
    });

    it('when a sales user merges records of another team, then 403 and nothing changes; their own and a teammate\'s merge; a read-only user is refused', async () => {
      const email = `team-${unique()}@team.example.org`;
      const own = await create('leads', { lastName: 'Own', email }, a().sales.auth);
      const teammates = await create('leads', { lastName: 'Team', email }, a().teammate.auth);
      const outsiders = await create('leads', { lastName: 'Out', email }, a().outsider.auth);
      const refused = await api().post(`/api/v1/leads/${own.id}/merge`).set(a().sales.auth).send({ duplicateIds: [outsiders.id] });
      expect(refused.status).toBe(403);
      expect((await api().get(`/api/v1/leads/${outsiders.id}`).set(a().admin.auth)).status).toBe(200);
      expect((await api().post(`/api/v1/leads/${own.id}/merge`).set(a().readOnly.auth).send({ duplicateIds: [teammates.id] })).status).toBe(403);
      const merged = await api().post(`/api/v1/leads/${own.id}/merge`).set(a().sales.auth).send({ duplicateIds: [teammates.id] });
      expect(merged.status).toBe(200);
      // Undoing takes the same permissions: a read-only user may not.
      expect((await api().post(`/api/v1/merges/${merged.body.data.mergeId}/undo`).set(a().readOnly.auth)).status).toBe(403);
      expect((await api().post(`/api/v1/merges/${merged.body.data.mergeId}/undo`).set(a().outsider.auth)).status).toBe(403);
      expect((await api().post(`/api/v1/merges/${merged.body.data.mergeId}/undo`).set(a().sales.auth)).status).toBe(200);
    });

    it('when ids are foreign, unknown, the survivor itself or a bad prefer is sent, then 404 or 400 and nothing changes; without a token 401', async () => {
      const survivor = await create('leads', { lastName: `Solo${unique()}` });
      const foreign = await create('leads', { lastName: 'Foreign' }, world.b.users.admin.auth);
      const merge = (id: string, body: unknown, auth: Record<string, string> = a().admin.auth) => api().post(`/api/v1/leads/${id}/merge`).set(auth).send(body as object);
      expect((await merge(survivor.id, { duplicateIds: [foreign.id] })).status).toBe(404);
      expect((await merge(foreign.id, { duplicateIds: [survivor.id] })).status).toBe(404);
      expect((await merge(survivor.id, { duplicateIds: [randomUUID()] })).status).toBe(404);
      expect((await merge(survivor.id, { duplicateIds: [survivor.id] })).status).toBe(400);
      expect((await merge(survivor.id, { duplicateIds: [] })).status).toBe(400);
      const other = await create('leads', { lastName: 'Other' });
      const badPrefer = await merge(survivor.id, { duplicateIds: [other.id], prefer: { email: randomUUID(), nonsense: other.id } });
      expect(badPrefer.status).toBe(400);
      expect(badPrefer.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['prefer.email', 'prefer.nonsense']);
      expect((await api().post(`/api/v1/leads/${survivor.id}/merge`).send({ duplicateIds: [other.id] })).status).toBe(401);
      expect((await api().get(`/api/v1/leads/${other.id}`).set(a().admin.auth)).status).toBe(200);
      expect((await api().get(`/api/v1/leads/${foreign.id}`).set(world.b.users.admin.auth)).status).toBe(200);

      const merged = await merge(survivor.id, { duplicateIds: [other.id] });
      expect(merged.status).toBe(200);
      expect((await api().post(`/api/v1/merges/${merged.body.data.mergeId}/undo`).set(world.b.users.admin.auth)).status).toBe(404);
      expect((await api().post(`/api/v1/merges/${randomUUID()}/undo`).set(a().admin.auth)).status).toBe(404);
      expect((await api().post(`/api/v1/merges/${merged.body.data.mergeId}/undo`)).status).toBe(401);
    });
  });
});
