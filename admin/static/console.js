// The console works without this file. It only adds copy buttons next to what a person
// would otherwise select and copy by hand (an invitation link, a key, recovery codes).
"use strict";
for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  const status = document.querySelector(`[data-copied-for="${button.dataset.copy}"]`);
  if (!source || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", () => {
    const text = source.matches("ul, ol")
      ? [...source.querySelectorAll("li")].map((item) => item.textContent.trim()).join("\n")
      : source.textContent.replace(/\s+/g, source.id === "secret" ? "" : " ").trim();
    navigator.clipboard.writeText(text).then(
      () => { if (status) status.textContent = button.dataset.copied; },
      () => { button.hidden = true; },
    );
  });
}
