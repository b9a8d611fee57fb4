/** Turns TLS handshake observations into JA4 / JA4S / JA4X records (shared by the TCP and QUIC analyzers). */
import type { Flow } from '../../capture/flow-table.js';
import type { Packet } from '../../capture/packet.js';
import type { AnalyzerContext } from '../analyzer.js';
import { ja4 } from '../ja4.js';
import { ja4s } from '../ja4s.js';
import { ja4x } from '../ja4x.js';
import type { ClientHello, ServerHello } from './hello.js';
import type { TlsSessionEvents } from './session.js';

/**
 * Per-flow event target: the analyzer points `flow`, `pkt` and `ctx` at the current call before it
 * pushes bytes, so the per-packet path creates no closures.
 */
export class HandshakeEmitter implements TlsSessionEvents {
  pkt: Packet | null = null;
  ctx: AnalyzerContext | null = null;

  constructor(readonly flow: Flow, private readonly quic: boolean) {}

  clientHello(ch: ClientHello): void {
    const ctx = this.ctx!;
    if (!ctx.enabled('ja4')) return;
    const details = ctx.options.details;
    const r = ja4(ch, false, details);
    if (!details) { ctx.emit(this.flow, 'ja4', r.ja4, this.pkt!.frame); return; }
    const extra: Record<string, unknown> = { ja4_r: r.ja4_r, ja4_ro: r.ja4_ro };
    if (ch.sni !== null) extra.sni = ch.sni;
    ctx.emit(this.flow, 'ja4', r.ja4, this.pkt!.frame, extra);
  }

  serverHello(sh: ServerHello): void {
    const ctx = this.ctx!;
    if (!ctx.enabled('ja4s')) return;
    const r = ja4s(sh, this.quic);
    ctx.emit(this.flow, 'ja4s', r.ja4s, this.pkt!.frame, ctx.options.details ? { ja4s_r: r.ja4s_r } : undefined);
  }

  certificates(ders: Buffer[], fromClient: boolean): void {
    const ctx = this.ctx!;
    if (!ctx.enabled('ja4x')) return;
    const details = ctx.options.details;
    for (let i = 0; i < ders.length; i++) {
      const r = ja4x(ders[i], details);
      if (!r) continue;
      ctx.emit(this.flow, 'ja4x', r.ja4x, this.pkt!.frame,
        details ? { ja4x_r: r.ja4x_r, chain_index: i, from_client: fromClient, ...r.names } : undefined);
    }
  }

  plaintext(fromClient: boolean, data: Buffer, alpn: string | null): void {
    this.ctx!.deliverPlaintext(this.flow, fromClient, data, this.pkt!, alpn);
  }
}
