// assist-ws payment pages: one submit per form (the server makes one authorization anyway),
// the card number grouped by four as it is typed, and the bonus points offer for an enrolled
// card.  The pages work without this script (without the points offer: the card pays all).
(function () {
  "use strict";
  function once(form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      var button = form.querySelector("button[type=submit]");
      if (button) {
        // Disabled after this event, so that the browser still sends the form.
        setTimeout(function () {
          button.disabled = true;
          if (button.dataset.paying) { button.textContent = button.dataset.paying; }
        }, 0);
      }
    });
  }
  function groups(input) {
    input.addEventListener("input", function () {
      var digits = input.value.replace(/\D/g, "").slice(0, 19);
      var grouped = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
      if (grouped !== input.value) { input.value = grouped; }
    });
  }
  // Bonus points: once a whole card number is typed, ask what it may pay with points; offer
  // them (all by default), show the split, and let the buyer decline or take fewer.
  function points(section, number, form) {
    var use = document.getElementById("UsePoints"), count = document.getElementById("Points");
    var split = document.getElementById("points-split"), label = document.getElementById("points-use");
    var amount = Number(section.dataset.amount), asked = "", max = 0;
    function show() {
      var n = use.checked ? Math.max(0, Math.min(max, Math.floor(Number(count.value) || 0))) : 0;
      count.disabled = !use.checked;
      split.textContent = section.dataset.split.replace("{card}", (amount - n).toFixed(2) + " " +
        section.dataset.currency).replace("{points}", String(n));
    }
    function offer(points) {
      max = points;
      section.dataset.offered = String(max);  // (the page's tests read when it answered)
      section.hidden = !max;
      use.disabled = !max;
      count.disabled = !max;
      if (!max) { return; }
      count.max = String(max);
      count.value = String(max);
      label.textContent = label.dataset.text.replace("{points}", String(max));
      show();
    }
    number.addEventListener("input", function () {
      var digits = number.value.replace(/\D/g, "");
      if (digits === asked) { return; }
      asked = digits;
      if (digits.length < 16) { offer(0); return; }
      var body = new URLSearchParams();
      body.set("CFSID", form.elements.CFSID.value);
      body.set("csrf", form.elements.csrf.value);
      body.set("CardNumber", digits);
      fetch(section.dataset.url, {method: "POST", body: body, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {points: 0}; })
        .then(function (data) { if (asked === digits) { offer(data.points || 0); } })
        .catch(function () { offer(0); });
    });
    use.addEventListener("change", show);
    count.addEventListener("input", show);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form"), once);
    var number = document.getElementById("CardNumber");
    if (number) { groups(number); }
    var section = document.getElementById("points");
    if (number && section) { points(section, number, document.getElementById("card-form")); }
  });
})();
// A page brought back from the back-forward cache would show a stale form: ask again.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) { window.location.reload(); }
});
