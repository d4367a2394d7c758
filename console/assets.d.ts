// The stylesheet is bundled beside the script (app.css): importing it has no value.
declare module "*.css";
