// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// The realm's Proxy constructor, which records every proxy it makes (the
// only way isProxy can tell one), installed before any user code runs.
// Joined into the outer function, run before any user code.
export function proxyGuard() {
  // ---- Proxy: no brand check exists in the language, so the realm's own
  // constructor records what it makes (every proxy a script can hold is made here).
  const proxies = new WeakSetCtor();
  function makeProxy(target, handler) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor Proxy requires 'new'");
    const proxy = new ProxyCtor(target, handler);
    apply(weakSetAdd, proxies, [proxy]);
    return proxy;
  }
  // Bound, so that like Proxy it has no `prototype` and still answers `new`.
  const GuardedProxy = apply(Function.prototype.bind, makeProxy, [undefined]);
  defineProperty(GuardedProxy, "name", { value: "Proxy", configurable: true });
  defineProperty(GuardedProxy, "length", { value: 2, configurable: true });
  defineProperty(GuardedProxy, "revocable", {
    value: function revocable(target, handler) {
      const pair = apply(proxyRevocable, ProxyCtor, [target, handler]);
      apply(weakSetAdd, proxies, [pair.proxy]);
      return pair;
    },
    writable: true,
    configurable: true,
  });
  defineProperty(globalThis, "Proxy", { value: GuardedProxy, writable: true, configurable: true, enumerable: false });
}
