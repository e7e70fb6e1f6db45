// The week grid: one row per diary, its busy and tentative blocks, and the free time.
// Every text goes in through textContent: titles are other people's input.

import { addDays, day, minutes, span, time } from "./week.js";

const SNAP = minutes(15);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hidden(text) {
  return element("span", "visually-hidden", text);
}

// The shown hours of each day, as [start, end) instants (DST-safe: local wall clock).
function dayWindows(first, count, [from, to]) {
  return Array.from({ length: count }, (_, i) => {
    const date = addDays(first, i);
    const start = new Date(date.getFullYear(), date.getMonth(), date.getDate(), from);
    const end = new Date(date.getFullYear(), date.getMonth(), date.getDate(), to);
    return { date, start, end };
  });
}

// The parts of [start, end) inside the shown hours, each placed as a share of the row.
function pieces(windows, start, end) {
  const found = [];
  windows.forEach((window, i) => {
    const from = Math.max(start.getTime(), window.start.getTime());
    const to = Math.min(end.getTime(), window.end.getTime());
    if (from >= to) return;
    const length = window.end - window.start;
    found.push({
      start: new Date(from),
      end: new Date(to),
      left: (i + (from - window.start) / length) / windows.length,
      width: (to - from) / length / windows.length,
    });
  });
  return found;
}

function place(node, piece) {
  // CSSOM, not a style attribute: the page's CSP allows no inline style.
  node.style.left = `${(piece.left * 100).toFixed(3)}%`;
  node.style.width = `${(piece.width * 100).toFixed(3)}%`;
}

// Blocks that overlap another block of the same diary are conflicts; the later of two
// overlapping blocks is drawn in the lower half, so that both stay readable.
function markConflicts(blocks) {
  const sorted = [...blocks].sort((a, b) => a.start - b.start);
  let latest = null;
  for (const block of sorted) {
    if (latest && block.start < latest.end) {
      block.conflict = true;
      latest.conflict = true;
      block.lower = !latest.lower;
    }
    if (!latest || block.end > latest.end) latest = block;
  }
  return blocks;
}

function header(windows) {
  const row = element("div", "row head");
  row.append(element("div", "name", ""));
  const track = element("div", "track days");
  for (const window of windows) {
    const cell = element("div", "day");
    cell.append(element("span", "day-name", day(window.date)));
    cell.append(element("span", "day-hours", `${time(window.start)}–${time(window.end)}`));
    track.append(cell);
  }
  row.append(track);
  return row;
}

function diaryRow(diary, windows) {
  const row = element("div", "row");
  row.dataset.kind = diary.kind;
  row.dataset.id = diary.id;
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", diary.name);
  row.append(element("div", "name", diary.name));
  const track = element("div", "track");
  let shown = 0;
  for (const block of markConflicts(diary.blocks)) {
    const label = block.title ?? (block.status === "busy" ? "Busy" : "Tentative");
    for (const piece of pieces(windows, block.start, block.end)) {
      const lane = block.conflict ? (block.lower ? " conflict lower" : " conflict upper") : "";
      const node = element("span", `block ${block.status}${lane}`);
      node.dataset.status = block.status;
      if (block.followUpId) node.dataset.followUp = block.followUpId;
      node.append(element("span", "label", label));
      const said = `${block.status}${block.conflict ? ", conflict" : ""}, ${span(piece.start, piece.end)}`;
      node.append(hidden(`, ${said}`));
      node.title = `${label} (${said})`;
      place(node, piece);
      track.append(node);
      shown += 1;
    }
  }
  if (!shown) track.append(hidden("free all week"));
  row.append(track);
  return row;
}

function slotAt(event, button, piece) {
  // A click picks the quarter hour under the pointer; a key press the slot's start.
  if (!event.detail) return piece.start;
  const box = button.getBoundingClientRect();
  const share = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
  const at = piece.start.getTime() + share * (piece.end - piece.start);
  return new Date(Math.max(piece.start.getTime(), Math.floor(at / SNAP) * SNAP));
}

function freeRow(free, windows, onSlot) {
  const row = element("div", "row free");
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", "Free for everyone");
  row.append(element("div", "name", "Free for everyone"));
  const track = element("div", "track");
  for (const interval of free) {
    for (const piece of pieces(windows, interval.start, interval.end)) {
      if (piece.end - piece.start < SNAP) continue;
      const button = element("button", "slot");
      button.type = "button";
      button.dataset.start = piece.start.toISOString();
      button.setAttribute("aria-label", `Book in free time ${span(piece.start, piece.end)}`);
      button.append(element("span", "label", time(piece.start)));
      button.addEventListener("click", (event) => onSlot(slotAt(event, button, piece)));
      place(button, piece);
      track.append(button);
    }
  }
  row.append(track);
  return row;
}

// Draw the grid into `container`; returns a function that highlights a first free slot.
export function renderGrid(container, { first, days, hours, diaries, free, onSlot }) {
  const windows = dayWindows(first, days, hours);
  const grid = element("div", `grid ${days === 1 ? "one-day" : "week"}`);
  grid.style.setProperty("--hours", String(hours[1] - hours[0]));
  grid.style.setProperty("--days", String(days));
  grid.append(header(windows));
  for (const diary of diaries) grid.append(diaryRow(diary, windows));
  const freeTrack = freeRow(free, windows, onSlot);
  grid.append(freeTrack);
  container.replaceChildren(grid);

  return function highlight(slot) {
    for (const old of grid.querySelectorAll(".first")) old.remove();
    const [piece] = pieces(windows, slot.start, slot.end);
    if (!piece) return null;
    const button = element("button", "slot first");
    button.type = "button";
    button.dataset.first = slot.start.toISOString();
    button.setAttribute("aria-label", `First available: ${span(slot.start, slot.end)}. Book it`);
    button.append(element("span", "label", `First available ${time(slot.start)}`));
    button.addEventListener("click", () => onSlot(slot.start));
    place(button, piece);
    freeTrack.querySelector(".track").append(button);
    return button;
  };
}
