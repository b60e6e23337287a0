// assist-ws: sends the buyer on to the bank's 3-D Secure page (the form also has a button,
// for a browser without scripts).
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var form = document.getElementById("acs-form");
  if (form) { form.submit(); }
});
