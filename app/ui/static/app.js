// The group view: pick colleagues, rooms and a week; see their diaries; book a free slot.

import { Api, ApiError, tokenSubject } from "./api.js";
import { renderGrid } from "./grid.js";
import {
  WEEK_DAYS,
  addDays,
  durationMinutes,
  isoDate,
  localInputValue,
  minutes,
  mondayOf,
  parseIsoDate,
  span,
} from "./week.js";

const $ = (id) => document.getElementById(id);

const state = {
  api: null,
  me: null,
  associates: [],
  resources: [],
  titles: new Map(), // follow-up id -> title, or null when it cannot be read
  highlight: null,
  drawn: 0, // the latest refresh; an older answer arriving late is dropped
};

function say(text) {
  $("status").textContent = text;
}

const REFUSED = "The token was refused (expired, or not valid here): paste a valid one.";

function fail(error) {
  if (error.status === 401) {
    // An expired token: ask for a new one where it was given.
    $("token-error").textContent = REFUSED;
    $("token-form").hidden = false;
    $("token").focus();
  }
  $("error").textContent = error instanceof Error ? error.message : String(error);
}

// A version 4 UUID; crypto.randomUUID exists only on https or localhost.
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function oneDay() {
  return $("span").value === "day";
}

// The first day shown, and how many: Monday to Friday of the date's week, or that one day.
function shown() {
  const date = parseIsoDate($("date").value);
  return oneDay() ? { first: date, days: 1 } : { first: mondayOf(date), days: WEEK_DAYS };
}

function hours() {
  return $("hours").value.split("-").map(Number);
}

function checked(kind) {
  return Array.from(document.querySelectorAll(`input[data-kind="${kind}"]:checked`), (box) => box.value);
}

function options(container, kind, items) {
  container.replaceChildren(
    ...items.map((item) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = item.id;
      box.dataset.kind = kind;
      box.checked = item.id === state.me;
      box.addEventListener("change", refresh);
      label.append(box, ` ${item.name}`);
      return label;
    }),
  );
}

async function titlesOf(ids) {
  const missing = [...new Set(ids)].filter((id) => !state.titles.has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        state.titles.set(id, (await state.api.get(`/v1/follow-ups/${id}`)).title);
      } catch {
        state.titles.set(id, null);
      }
    }),
  );
}

async function refresh() {
  const drawn = ++state.drawn;
  $("error").textContent = "";
  state.highlight = null;
  const associateIds = checked("associate");
  const resourceIds = checked("resource");
  if (!associateIds.length && !resourceIds.length) {
    $("grid").replaceChildren();
    say("Pick colleagues or rooms to see their diaries.");
    return;
  }
  const { first: start, days } = shown();
  const end = addDays(start, days);
  say("Loading…");
  try {
    const answer = await state.api.get("/v1/availability", {
      associate_ids: associateIds,
      resource_ids: resourceIds,
      start: start.toISOString(),
      end: end.toISOString(),
    });
    const ids = answer.calendars.flatMap((c) => c.busy.map((b) => b.follow_up_id).filter(Boolean));
    await titlesOf(ids);
    if (drawn !== state.drawn) return;
    const names = new Map(
      [...state.associates, ...state.resources].map((item) => [item.id, item.name]),
    );
    const diaries = answer.calendars.map((calendar) => ({
      kind: calendar.kind,
      id: calendar.id,
      name: names.get(calendar.id) ?? calendar.id,
      blocks: calendar.busy.map((block) => ({
        start: new Date(block.start_at),
        end: new Date(block.end_at),
        status: block.status,
        followUpId: block.follow_up_id ?? null,
        title: block.follow_up_id ? state.titles.get(block.follow_up_id) : null,
      })),
    }));
    state.highlight = renderGrid($("grid"), {
      first: start,
      days,
      hours: hours(),
      diaries,
      free: answer.free.map((f) => ({ start: new Date(f.start_at), end: new Date(f.end_at) })),
      onSlot: openBooking,
    });
    const count = diaries.length === 1 ? "1 diary" : `${diaries.length} diaries`;
    say(`${count}, ${oneDay() ? "" : "week of "}${isoDate(start)}.`);
  } catch (error) {
    if (drawn === state.drawn) {
      say("");
      fail(error);
    }
  }
}

async function firstAvailable() {
  $("error").textContent = "";
  const { first: start, days } = shown();
  const after = new Date(Math.max(Date.now(), start.getTime()));
  const before = addDays(start, days);
  if (!state.highlight) {
    say("Pick colleagues or rooms first, and wait for their diaries.");
    return;
  }
  if (after >= before) {
    say(`This ${oneDay() ? "day" : "week"} is over: pick a later one.`);
    return;
  }
  try {
    const { slots } = await state.api.get("/v1/availability/first-free", {
      associate_ids: checked("associate"),
      resource_ids: checked("resource"),
      duration: $("duration").value,
      after: after.toISOString(),
      before: before.toISOString(),
      working_hours: "true",
    });
    if (!slots.length) {
      say("No time shown here when everyone is free that long (inside working hours).");
      return;
    }
    const slot = { start: new Date(slots[0].start_at), end: new Date(slots[0].end_at) };
    const button = state.highlight(slot);
    say(`First available: ${span(slot.start, slot.end)}.`);
    if (button) button.focus();
  } catch (error) {
    fail(error);
  }
}

function invitees() {
  const me = state.me;
  const associates = state.associates.filter((a) => a.id !== me && checked("associate").includes(a.id));
  const resources = state.resources.filter((r) => checked("resource").includes(r.id));
  return { associates, resources };
}

function openBooking(start) {
  const dialog = $("book-dialog");
  const { associates, resources } = invitees();
  const names = [...associates, ...resources].map((item) => item.name);
  $("book-who").textContent = names.length ? `Inviting ${names.join(", ")}.` : "Only you.";
  $("book-title").value = "";
  $("book-start").value = localInputValue(start);
  $("book-duration").value = String(durationMinutes($("duration").value));
  $("book-error").textContent = "";
  dialog.dataset.key = newKey();
  dialog.showModal();
  $("book-title").focus();
}

async function book(event) {
  event.preventDefault();
  const dialog = $("book-dialog");
  const submit = $("book-submit");
  const start = new Date($("book-start").value);
  const end = new Date(start.getTime() + minutes(Number($("book-duration").value)));
  const { associates, resources } = invitees();
  const title = $("book-title").value.trim();
  const body = {
    title,
    start_at: start.toISOString(),
    end_at: end.toISOString(),
    participants: [
      ...associates.map((a) => ({ associate_id: a.id })),
      ...resources.map((r) => ({ resource_id: r.id })),
    ],
  };
  submit.disabled = true;
  try {
    const created = await state.api.post("/v1/follow-ups", body, dialog.dataset.key);
    state.titles.set(created.id, created.title);
    dialog.close();
    await refresh();
    say(`Booked “${created.title}”, ${span(start, end)}.`);
  } catch (error) {
    // A problem answer committed nothing, so a changed form may go out under a new key;
    // a lost connection keeps the key, and the retry is answered from the first attempt.
    if (error instanceof ApiError) dialog.dataset.key = newKey();
    $("book-error").textContent = error instanceof ApiError ? error.message : String(error);
  } finally {
    submit.disabled = false;
  }
}

async function start(token) {
  $("token-error").textContent = "";
  state.api = new Api(token);
  state.me = tokenSubject(token);
  state.titles.clear();
  try {
    [state.associates, state.resources] = await Promise.all([
      state.api.all("/v1/associates"),
      state.api.all("/v1/resources"),
    ]);
  } catch (error) {
    $("token-error").textContent = error.status === 401 ? REFUSED : String(error.message);
    $("token-form").hidden = false;
    return;
  }
  const me = state.associates.find((a) => a.id === state.me);
  $("who").textContent = me ? `Signed in as ${me.name}` : "Signed in";
  options($("associates"), "associate", state.associates);
  options($("resources"), "resource", state.resources);
  $("token-form").hidden = true;
  $("view").hidden = false;
  await refresh();
}

// A week at a time, or a working day at a time in the one-day view.
function move(step) {
  let date = parseIsoDate($("date").value);
  if (!oneDay()) {
    date = addDays(mondayOf(date), 7 * step);
  } else {
    do date = addDays(date, step);
    while (date.getDay() === 0 || date.getDay() === 6);
  }
  $("date").value = isoDate(date);
  refresh();
}

function main() {
  $("date").value = isoDate(new Date());
  $("date").addEventListener("change", () => $("date").value && refresh());
  $("previous").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  $("span").addEventListener("change", refresh);
  $("hours").addEventListener("change", refresh);
  $("first-available").addEventListener("click", firstAvailable);
  $("book-form").addEventListener("submit", book);
  $("book-cancel").addEventListener("click", () => $("book-dialog").close());
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start($("token").value.trim());
    $("token").value = "";
  });
  window.addEventListener("hashchange", tokenFromFragment);
  tokenFromFragment();
}

// `convene demo` prints the page's URL with #token=…; keep it out of the address bar.
function tokenFromFragment() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    history.replaceState(null, "", location.pathname + location.search);
    start(token);
  }
}

main();
