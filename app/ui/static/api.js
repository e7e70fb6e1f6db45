// Calls to the Convene API with the caller's bearer token; problems become ApiError.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// Relative to the page (/ui/), so a proxy's path prefix is kept.
const base = new URL("../", document.baseURI);

export class Api {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, { query, body, headers } = {}) {
    const url = new URL(path.replace(/^\//, ""), base);
    for (const [name, value] of Object.entries(query || {})) {
      for (const item of [].concat(value)) url.searchParams.append(name, item);
    }
    const init = { method, headers: { Authorization: `Bearer ${this.token}`, ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const data = response.status === 204 ? null : await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data || {});
    return data;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  // Every page of a cursor-paginated list.
  async all(path, query = {}) {
    const items = [];
    let cursor;
    do {
      const page = await this.get(path, { ...query, limit: 200, ...(cursor ? { cursor } : {}) });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  // The same key is sent again if the caller retries this very booking.
  post(path, body, idempotencyKey) {
    return this.request("POST", path, { body, headers: { "Idempotency-Key": idempotencyKey } });
  }
}

// The associate a token acts for (its `sub`); the server still checks the signature.
export function tokenSubject(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).sub || null;
  } catch {
    return null;
  }
}
