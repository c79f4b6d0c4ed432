import { StrictMode } from 'react';
import { RouterProvider } from 'react-aria-components';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { AuthProvider } from './auth';
import { navigate } from './router';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {/* Links (href="/console/…") route inside the app: a full page load would drop the in-memory token. */}
    <RouterProvider navigate={(to) => navigate(to)}>
      <AuthProvider>
        <App />
      </AuthProvider>
    </RouterProvider>
  </StrictMode>,
);
