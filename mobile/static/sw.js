self.addEventListener("install", () => self.skipWaiting());
const ASSETS = [__ASSETS__];
