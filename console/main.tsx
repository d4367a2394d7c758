import { render } from "preact";
import { App } from "./app.tsx";
import "./styles.css";

const root = document.getElementById("app");
if (root) {
  root.replaceChildren(); // the "Loading" note the page is served with
  render(<App pipeline={root.dataset.pipeline ?? ""} />, root);
}
