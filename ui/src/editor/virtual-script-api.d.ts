declare module 'virtual:script-api' {
  interface Entry {
    readonly label: string
    readonly type: 'function' | 'variable' | 'namespace' | 'property' | 'method'
    readonly detail: string
    readonly info: string
  }
  const api: { readonly globals: readonly Entry[]; readonly members: Readonly<Record<string, readonly Entry[]>> }
  export default api
}
