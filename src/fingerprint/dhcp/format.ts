/** The shared JA4D string layout for DHCPv4 and DHCPv6. */

/** Empty lists print as `00`; the size as at least four digits. */
export function formatJa4d(typeName: string, size: number, requestedAddress: boolean, fqdn: boolean, options: string, requested: string): string {
  return `${typeName}${String(size).padStart(4, '0')}${requestedAddress ? 'i' : 'n'}${fqdn ? 'd' : 'n'}_${options || '00'}_${requested || '00'}`;
}

/** Message types past the name table print as their five-digit number. */
export function messageTypeName(names: readonly string[], type: number): string {
  return type < names.length ? names[type] : String(type).padStart(5, '0');
}

export function appendCode(list: string, code: number): string {
  return list.length === 0 ? String(code) : `${list}-${code}`;
}
