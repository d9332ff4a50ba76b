// Mermaid is 2.6 MB of JavaScript, so only a page that has a diagram loads
// it: this is the book's one additional script, and it does nothing on a
// page without a `pre.mermaid`. The two scripts it loads are written into
// src/mermaid/ by the pinned mdbook-mermaid (`cargo xtask book` / `serve`).
(() => {
  if (!document.querySelector('pre.mermaid')) return;
  const load = (file) => new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = `${path_to_root}mermaid/${file}`;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${script.src}`));
    document.head.appendChild(script);
  });
  load('mermaid.min.js')
    .then(() => load('mermaid-init.js'))
    // mermaid-init.js asks for rendering on the window's load event, which
    // may have passed by now; run() renders whatever is still pending.
    .then(() => mermaid.run())
    .catch((error) => console.error(error));
})();
