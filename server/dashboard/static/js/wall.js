// Wall mode (大屏) and the audible alert. The 1920×1080 layout scales with the screen through its
// CSS units (everything sized in vw/vh), not a CSS transform: a transformed map canvas misplaces
// clicks in map libraries, a re-laid-out one cannot.
const MUTE_KEY = "gridops.mute";
let audio = null;

export const alert = {
  muted: () => localStorage.getItem(MUTE_KEY) === "1",
  setMuted: (m) => localStorage.setItem(MUTE_KEY, m ? "1" : "0"),
  /** Browsers start audio only after a user gesture: the log-in click calls this. */
  unlock() { audio ??= new AudioContext(); if (audio.state === "suspended") audio.resume(); },
  beep(times = 2) {
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1); // what the tests count
    if (this.muted() || !audio) return;
    for (let i = 0; i < times; i++) {
      const t = audio.currentTime + i * 0.35, osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square"; osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t); gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
      osc.connect(gain).connect(audio.destination); osc.start(t); osc.stop(t + 0.3);
    }
  },
};

export function setupWall(button, onResize) {
  const set = (on) => {
    document.body.classList.toggle("wall", on);
    button.textContent = on ? "退出大屏" : "大屏";
    if (on && document.fullscreenEnabled && !document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {});
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
    requestAnimationFrame(() => onResize(on));
  };
  button.addEventListener("click", () => set(!document.body.classList.contains("wall")));
  if (new URLSearchParams(location.search).get("wall") === "1") set(true);
  window.addEventListener("resize", () => onResize(document.body.classList.contains("wall")));
}

export function setupMute(button) {
  const show = () => { button.textContent = alert.muted() ? "提示音：关" : "提示音：开"; button.classList.toggle("muted", alert.muted()); };
  button.addEventListener("click", () => { alert.unlock(); alert.setMuted(!alert.muted()); show(); });
  show();
}
