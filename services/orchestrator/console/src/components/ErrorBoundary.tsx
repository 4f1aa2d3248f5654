import { Component, type ReactNode } from "react";
import { ErrorBanner } from "./ErrorBanner";

// A screen that throws while rendering shows the error instead of leaving a blank page; the others go on.
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    return this.state.error ? <ErrorBanner error={this.state.error} /> : this.props.children;
  }
}
