// assist-ws payment pages: one submit per form (the server makes one authorization anyway),
// and the card number grouped by four as it is typed.  The pages work without this script.
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
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form"), once);
    var number = document.getElementById("CardNumber");
    if (number) { groups(number); }
  });
})();
// A page brought back from the back-forward cache would show a stale form: ask again.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) { window.location.reload(); }
});
