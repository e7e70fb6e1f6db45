// Dates of the shown week, in the browser's time zone.

export const WEEK_DAYS = 5; // Monday to Friday
const MINUTE = 60 * 1000;

export function mondayOf(date) {
  const day = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  day.setDate(day.getDate() - ((day.getDay() + 6) % 7));
  return day;
}

export function addDays(date, days) {
  const next = new Date(date);
  next.setDate(next.getDate() + days);
  return next;
}

export function isoDate(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function parseIsoDate(value) {
  const [year, month, day] = value.split("-").map(Number);
  return new Date(year, month - 1, day);
}

// The value of an <input type="datetime-local"> for this instant, local time.
export function localInputValue(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * MINUTE);
  return shifted.toISOString().slice(0, 16);
}

export function minutes(count) {
  return count * MINUTE;
}

// "PT1H30M" -> minutes; only the forms the page offers.
export function durationMinutes(iso) {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(iso);
  return match ? Number(match[1] || 0) * 60 + Number(match[2] || 0) : 60;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
});

export function time(date) {
  return timeFormat.format(date);
}

export function day(date) {
  return dayFormat.format(date);
}

export function span(start, end) {
  return `${day(start)} ${time(start)}–${time(end)}`;
}
