// Keyboard: j/k move between answers, p edits the focused answer's points, g the group's.
(function () {
  "use strict";
  let current = -1;
  const answers = () => Array.from(document.querySelectorAll(".answer"));
  function focusAt(index) {
    const all = answers();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((el) => el.classList.remove("focused"));
    const el = all[current];
    el.classList.add("focused");
    el.scrollIntoView({ block: "center" });
  }
  function typing(event) {
    const tag = (event.target.tagName || "").toLowerCase();
    return tag === "input" || tag === "select" || tag === "textarea";
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event)) { event.target.blur(); return; }
    if (typing(event) || event.altKey || event.ctrlKey || event.metaKey) return;
    const all = answers();
    if (event.key === "j") { focusAt(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focusAt(current - 1); event.preventDefault(); }
    else if (event.key === "p" && all[current]) {
      const field = all[current].querySelector(".answer-points");
      if (field) { field.focus(); event.preventDefault(); }
    } else if (event.key === "g" && all[current]) {
      const group = all[current].closest(".group");
      const field = group && group.querySelector(".group-points");
      if (field) { field.focus(); event.preventDefault(); }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target) {
      const index = answers().indexOf(target.classList.contains("answer") ? target : target.querySelector(".answer"));
      if (index >= 0) focusAt(index);
    }
  });
})();
