// The Cardmaker console: reads the operator API's JSON routes and shows orders (lifecycle and
// per-template progress), an order's stock per template, deliveries with their cards'
// outcomes and the failures waiting for a redrive, refreshed every few seconds. Read-only:
// every action stays with the `cardmaker` command. Values are shown with textContent only.
(function () {
  "use strict";
  const config = Object.assign({ apiBase: "", sign: null, refreshSeconds: 3 },
    window.CARDMAKER_CONSOLE || {});
  const LIFECYCLE = ["RECEIVED", "GENERATING", "GENERATED", "MADE", "SHIPPED", "CONFIRMED"];
  const params = new URLSearchParams(location.search);
  const state = {
    ownSign: params.get("own_sign") || config.ownSign || "daily",
    order: params.get("order"), // the chosen card_order_id (else the newest)
    followed: new Set([...params.getAll("delivery"), ...stored("followed")]),
  };
  let timer = null;

  function stored(name) {
    try {
      return JSON.parse(localStorage.getItem(`cardmaker.${name}`) || "[]");
    } catch (error) {
      return [];
    }
  }

  function remember() {
    try {
      localStorage.setItem("cardmaker.followed", JSON.stringify([...state.followed]));
    } catch (error) {
      // Storage refused (private window): following lasts until the page is closed.
    }
  }

  // One GET of the API, signed when the console is configured to sign; the JSON answer, or
  // null for a 404 (or 405: a route this API does not have).
  async function api(path) {
    const url = new URL(config.apiBase + path, location.href).href;
    const headers = { accept: "application/json" };
    if (config.sign) Object.assign(headers, await config.sign({ method: "GET", url, headers: {}, body: "" }));
    const answer = await fetch(url, { headers, cache: "no-store" });
    if (answer.status === 404 || answer.status === 405) return null;
    if (!answer.ok) throw new Error(`${path.split("?")[0]} answered HTTP ${answer.status}`);
    return answer.json();
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(tableId, rows, empty) {
    const body = document.querySelector(`#${tableId} tbody`);
    const columns = document.querySelectorAll(`#${tableId} thead th`).length;
    body.replaceChildren(...(rows.length ? rows
      : [element("tr", {}, element("td", { colspan: columns, class: "muted" }, empty))]));
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").slice(0, 19) : "";
  }

  function lifecycle(status) {
    if (status === "FAILED") return element("span", { class: "status bad" }, "FAILED");
    const reached = LIFECYCLE.indexOf(status);
    return element("ol", { class: "lifecycle", "aria-label": `Lifecycle: ${status}` },
      ...LIFECYCLE.map((step, index) => element("li", {
        class: index < reached ? "done" : index === reached ? "current" : "todo",
        "aria-current": index === reached ? "step" : null,
      }, step)));
  }

  function showOrders(listed) {
    const orders = listed ? listed.orders : [];
    if (!state.order && orders.length) state.order = String(orders[0].card_order_id);
    fill("orders", orders.map((order) => {
      const chosen = String(order.card_order_id) === state.order;
      const link = element("a", { href: `?own_sign=${state.ownSign}&order=${order.card_order_id}`,
        "aria-current": chosen ? "true" : null }, order.making_card_no);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        state.order = String(order.card_order_id);
        history.replaceState(null, "", link.href);
        refresh();
      });
      return element("tr", { "data-order": order.card_order_id, class: chosen ? "chosen" : null },
        element("th", { scope: "row" }, link),
        element("td", {}, lifecycle(order.status)),
        element("td", { class: "number" }, order.card_count.toLocaleString("en")),
        element("td", {}, when(order.received_at)));
    }), `No ${state.ownSign} order yet.`);
  }

  function showOrder(order, stock) {
    const section = document.getElementById("order");
    section.hidden = !order;
    if (!order) return;
    document.getElementById("order-title").textContent = `Order ${order.making_card_no}`;
    const generated = `${order.cards_generated.toLocaleString("en")} of ` +
      `${order.card_count.toLocaleString("en")} cards generated`;
    const chunks = order.chunks_total === null ? "" : `, ${order.chunks_done}/${order.chunks_total} chunks`;
    document.getElementById("order-summary").replaceChildren(
      lifecycle(order.status), element("span", {}, ` ${generated}${chunks}`),
      order.failure_reason ? element("span", { class: "bad" }, ` — ${order.failure_reason}`) : "");
    const levels = new Map((stock ? stock.templates : []).map((t) => [t.template_no, t]));
    fill("templates", order.templates.map((template) => {
      const level = levels.get(template.template_no);
      const label = `${template.generated}/${template.requested}`;
      return element("tr", { "data-template": template.template_no },
        element("th", { scope: "row" }, `${template.template_no} `,
          element("span", { class: "muted" }, template.card_name)),
        element("td", {},
          element("progress", { max: template.requested, value: template.generated,
            "aria-label": `${template.template_no} generated` }),
          element("span", { class: "generated number" }, ` ${label}`)),
        element("td", { class: "handed-out number" }, level ? level.handed_out : "–"),
        element("td", { class: "remaining number" + (level && level.remaining === 0 ? " bad" : "") },
          level ? level.remaining : "–"));
    }), "No template.");
  }

  function outcomes(delivery) {
    const counts = {};
    for (const card of delivery.cards) counts[card.outcome] = (counts[card.outcome] || 0) + 1;
    const summary = Object.entries(counts).map(([outcome, n]) => `${n} ${outcome}`).join(", ");
    if (!delivery.cards.length) return element("span", { class: "muted" }, "none sent yet");
    return element("details", {}, element("summary", {}, summary),
      element("ul", {}, ...delivery.cards.map((card) => element("li", {},
        `${card.card_no} ${card.outcome}${card.code ? ` (${card.code})` : ""}`))));
  }

  function showDeliveries(deliveries) {
    fill("deliveries", deliveries.map((delivery) => element("tr", { "data-delivery": delivery.delivery_id },
      element("th", { scope: "row" }, `${delivery.delivery_id} `, element("span", { class: "muted" }, delivery.type)),
      element("td", {}, element("span", { class: `status ${statusClass(delivery.status)}` }, delivery.status)),
      element("td", {}, `${delivery.card_order_id || "–"} · ${delivery.template_no || "–"}`),
      element("td", { class: "outcomes" }, outcomes(delivery)))),
    "No delivery followed: list an order's deliveries, or follow one by its id.");
  }

  function statusClass(status) {
    return { DELIVERED: "good", PARTIAL: "bad", FAILED: "bad", WAITING_STOCK: "wait" }[status] || "";
  }

  function showFailures(failures) {
    const queues = failures ? failures.queues : [];
    fill("failures", queues.map((queue) => element("tr", { "data-queue": queue.queue },
      element("th", { scope: "row" }, queue.queue),
      element("td", { class: "number" + (queue.waiting ? " bad" : "") }, queue.waiting),
      element("td", { class: "number" }, queue.in_flight))),
    failures ? "No queue." : "This API has no GET /failures.");
  }

  // The deliveries to show: those of the chosen order when the API lists them by order
  // (GET /deliveries?card_order_id=...), and those followed by id.
  async function deliveries() {
    const ids = new Set(state.followed);
    if (state.order) {
      const listed = await api(`/deliveries?card_order_id=${state.order}&own_sign=${state.ownSign}`)
        .catch(() => null);
      for (const item of (listed && listed.deliveries) || []) ids.add(item.delivery_id);
    }
    const found = await Promise.all([...ids].map((id) => api(`/deliveries/${encodeURIComponent(id)}`)));
    return found.filter(Boolean);
  }

  async function refresh() {
    clearTimeout(timer);
    const problem = document.getElementById("problem");
    try {
      const sign = state.ownSign;
      const listed = await api(`/orders?own_sign=${sign}&limit=20`);
      showOrders(listed);
      const chosen = state.order;
      const [order, stock, followed, failures] = await Promise.all([
        chosen ? api(`/orders/${chosen}?own_sign=${sign}`) : null,
        chosen ? api(`/orders/${chosen}/stock?own_sign=${sign}`) : null,
        deliveries(),
        api("/failures"),
      ]);
      showOrder(order, stock);
      showDeliveries(followed);
      showFailures(failures);
      problem.hidden = true;
      document.getElementById("refreshed").textContent =
        `Updated ${new Date().toLocaleTimeString("en-GB")}, every ${config.refreshSeconds} s`;
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    } catch (error) {
      problem.textContent = `Cannot read the API: ${error.message}. Retrying.`;
      problem.hidden = false;
    }
    timer = setTimeout(refresh, config.refreshSeconds * 1000);
  }

  function start() {
    const select = document.getElementById("own-sign");
    select.value = state.ownSign;
    select.addEventListener("change", () => {
      state.ownSign = select.value;
      state.order = null;
      history.replaceState(null, "", `?own_sign=${state.ownSign}`);
      refresh();
    });
    document.getElementById("follow").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("delivery-id");
      state.followed.add(input.value.trim());
      input.value = "";
      remember();
      refresh();
    });
    // No polling while the tab is hidden; at once when it shows again.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) clearTimeout(timer);
      else refresh();
    });
    remember();
    refresh();
  }

  start();
})();
