// Building the console's DOM: every string goes in as a text node or an attribute value, never as HTML (the page's
// Trusted Types policy makes HTML sinks throw anyway). Styles are set through the CSSOM, which the CSP allows.

/**
 * @typedef {string | number | Node | null | undefined | false | ChildList} Child
 * @typedef {readonly Child[]} ChildList
 * @typedef {{
 *   class?: string, id?: string, title?: string, href?: string, type?: string, value?: string, name?: string,
 *   placeholder?: string, method?: string, inputmode?: string, for?: string, role?: string, autocomplete?: string, pattern?: string, min?: string,
 *   max?: string, step?: string, rows?: string, disabled?: boolean, checked?: boolean, selected?: boolean,
 *   required?: boolean, hidden?: boolean, style?: Record<string, string>,
 *   data?: Record<string, string>, aria?: Record<string, string>,
 *   on?: Partial<Record<keyof HTMLElementEventMap, (e: Event) => void>>
 * }} Props
 */

const BOOLEAN = new Set(["disabled", "checked", "selected", "required", "hidden"]);

/**
 * An element with attributes, listeners and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === "on") {
      for (const [event, handler] of Object.entries(/** @type {Record<string, (e: Event) => void>} */ (value)))
        el.addEventListener(event, handler);
      continue;
    }
    if (key === "style") {
      for (const [prop, v] of Object.entries(/** @type {Record<string, string>} */ (value)))
        el.style.setProperty(prop, v);
      continue;
    }
    if (key === "data" || key === "aria") {
      for (const [k, v] of Object.entries(/** @type {Record<string, string>} */ (value)))
        el.setAttribute(`${key}-${k}`, v);
      continue;
    }
    // What is left are the plain attributes: strings, and booleans for the BOOLEAN ones.
    const text = /** @type {string | boolean} */ (value);
    if (BOOLEAN.has(key)) {
      if (text === true) el.setAttribute(key, "");
    } else if (key === "href") {
      // Links stay inside the console: its own routes (#/...) or same-origin paths, never javascript: URLs.
      const href = String(text);
      const inside = href.startsWith("#") || (href.startsWith("/") && !href.startsWith("//"));
      el.setAttribute("href", inside ? href : "#/");
    } else if (key === "value" && "value" in el) {
      /** @type {HTMLInputElement} */ (el).value = String(text);
    } else {
      el.setAttribute(key, String(text));
    }
  }
  append(el, children);
  return el;
}

/**
 * Appends children: strings and numbers as text nodes.
 * @param {Node} parent
 * @param {ChildList} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (typeof child === "string" || typeof child === "number")
      parent.appendChild(document.createTextNode(String(child)));
    else if (child instanceof Node) parent.appendChild(child);
    else append(parent, child);
  }
}

/**
 * Replaces an element's children.
 * @param {Element} parent
 * @param {...Child} children
 */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * A table with a header row; each row is a list of cells.
 * @param {string[]} head
 * @param {Child[][]} rows
 * @param {string} [cls]
 */
export function table(head, rows, cls = "") {
  return h(
    "table",
    { class: `grid ${cls}`.trim() },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        head.map((c) => h("th", {}, c)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          {},
          r.map((c) => h("td", {}, c)),
        ),
      ),
    ),
  );
}

/**
 * A <select> of options, with one selected.
 * @param {string} name
 * @param {readonly (string | [value: string, label: string])[]} options
 * @param {string | null} selected
 * @param {(value: string) => void} [onChange]
 */
export function select(name, options, selected, onChange) {
  return h(
    "select",
    { name, on: onChange ? { change: (e) => onChange(/** @type {HTMLSelectElement} */ (e.target).value) } : {} },
    options.map((o) => {
      const [value, label] = typeof o === "string" ? [o, o] : o;
      return h("option", { value, selected: value === selected }, label);
    }),
  );
}

/**
 * A labelled field.
 * @param {string} label
 * @param {HTMLElement} control
 */
export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

/**
 * A message box: `info`, `ok`, `warn` or `error`.
 * @param {"info" | "ok" | "warn" | "error"} kind
 * @param {...Child} children
 */
export function note(kind, ...children) {
  return h("div", { class: `note ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/**
 * A small coloured label.
 * @param {string} text
 * @param {string} [kind]
 */
export const badge = (text, kind = "") => h("span", { class: `badge ${kind}`.trim() }, text);
